"""``python -m oceanscan`` runs the console script."""

import sys

from oceanscan.cli import main

sys.exit(main())
