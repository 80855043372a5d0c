#!/usr/bin/env bash
# Set up (idempotent) and run the demo show on http://127.0.0.1:8765 . Extra arguments go
# to run_avatar.py, e.g. ./scripts/demo.sh --avatar my.vrm
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python run_avatar.py "$@"
