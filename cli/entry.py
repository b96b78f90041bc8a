"""The ``ragstream`` console script. The base install (a producing service's) ships the script too, without the
command's dependencies, which come with the ``server`` extra; it then says what to install instead of a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from ragstream.cli.main import main as run
    except ModuleNotFoundError as missing:
        if (missing.name or "").partition(".")[0] == "ragstream":
            raise
        sys.exit(f"ragstream: this command needs the server install (module {missing.name!r} is missing): "
                 "pip install 'ragstream[server]'")
    run()
