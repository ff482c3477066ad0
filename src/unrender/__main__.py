"""``python -m unrender``: the ``unrender`` command, for an interpreter whose scripts folder is
not on PATH (the workflow's jobs call it so)."""

import sys

from unrender.cli import main

sys.exit(main())
