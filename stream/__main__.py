"""``python -m stream worker``: run a stream worker (Faust's own command line).

Settings come from ``METERLINE_*``; the app is built here, at the entry point. The web server
Faust starts by default is not used by Meterline, so ``worker`` runs without it unless
``--with-web`` is given.
"""

import sys

from stream.app import create_app
from stream.config import BudgetStreamSettings, StreamSettings
from stream.errors import PriceFileError


def main() -> None:
    try:
        app = create_app(StreamSettings(), BudgetStreamSettings())
    except PriceFileError as exc:
        # A worker must not start on a price book it cannot read; say why without a traceback.
        raise SystemExit(f"meterline stream: bad METERLINE_PRICE_FILE: {exc}") from exc
    argv = sys.argv[1:]
    if argv[:1] == ["worker"] and "--with-web" not in argv and "--without-web" not in argv:
        sys.argv.append("--without-web")
    app.main()


if __name__ == "__main__":
    main()
