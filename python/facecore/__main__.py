"""``python -m facecore`` runs the command line (see :mod:`facecore.cli`)."""

import sys

from .cli import main

sys.exit(main())
