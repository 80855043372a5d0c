#!/usr/bin/env python3
"""Run the vhuman live host: ``python run_avatar.py --help``."""

import sys

from vhuman.cli import run_main

if __name__ == "__main__":
    sys.exit(run_main())
