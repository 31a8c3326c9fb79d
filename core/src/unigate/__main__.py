"""``python -m unigate`` is the ``unigate`` command."""

import sys

from unigate.cli import main

sys.exit(main())
