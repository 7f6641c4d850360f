"""``python -m stream worker``: run a stream worker (Faust's own command line)."""

from stream.app import app

# Agents register themselves on import.
import stream.agents  # noqa: F401  isort: skip

if __name__ == "__main__":
    app.main()
