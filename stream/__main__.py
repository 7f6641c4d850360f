"""``python -m stream worker``: run a stream worker (Faust's own command line).

The web server Faust starts by default is not used by Meterline, so ``worker`` runs without it
unless ``--with-web`` is given.
"""

import sys

from stream.app import app

# Agents register themselves on import.
import stream.agents  # noqa: F401  isort: skip
from stream import budget_agents  # noqa: F401  isort: skip

if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["worker"] and "--with-web" not in argv and "--without-web" not in argv:
        sys.argv.append("--without-web")
    app.main()
