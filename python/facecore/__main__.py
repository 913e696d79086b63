"""``python -m facecore`` runs the command line (see :mod:`facecore.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":  # importing this module (doc tools, doctest walkers) runs nothing
    sys.exit(main())
