"""The ``satr`` console command: the same command line as the Rust binary
(``satr::cli::main`` inside the extension module, not a second implementation).
Configs may name ``task = "gym:<id>"``: such tasks are registered before the command
runs."""

from __future__ import annotations

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Runs ``satr`` with ``argv`` (default: ``sys.argv``) and exits with its status."""
    from . import _satr

    args = list(sys.argv if argv is None else argv)
    args[0:1] = ["satr"]
    sys.stdout.flush()
    sys.exit(_satr.cli_main(args))


if __name__ == "__main__":
    main()
