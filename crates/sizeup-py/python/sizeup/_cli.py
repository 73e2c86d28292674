"""The ``sizeup`` command installed with the package: the Rust CLI, in-process."""

from __future__ import annotations

import sys

from . import _sizeup


def main() -> None:
    """Run ``sizeup`` with ``sys.argv`` and exit with its status."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = ["sizeup", *sys.argv[1:]]
    sys.exit(_sizeup.main(argv))


if __name__ == "__main__":
    main()
