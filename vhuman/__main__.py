"""``python -m vhuman`` is the ``vhuman`` command."""

import sys

from vhuman.cli import main

sys.exit(main())
