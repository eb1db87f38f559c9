"""``python -m realnets``: the command line (see :mod:`realnets.cli`)."""

from realnets.cli import entry

entry()
