"""``python -m realnets``: the command line (see :mod:`realnets.cli`)."""

import sys

from realnets.cli import main

sys.exit(main())
