"""``vhuman fleet`` as a user runs it: a real subprocess, the gateway, then SIGTERM drains."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fleet.harness import SHOW

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_fleet_command_serves_rooms_and_drains_on_sigterm(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(f"""name: cmd
gateway: {{port: 0, thumbnails_s: 0}}
log_dir: logs
defaults: {{avatar: procedural, size: 160x120, fps: 15}}
rooms:
  - id: solo
    show: {SHOW}
    token: env:SOLO_TOKEN
""")
    env = {**os.environ, "SOLO_TOKEN": "solo-secret-token-42"}
    proc = subprocess.Popen([sys.executable, "-m", "vhuman", "fleet", str(fleet)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: list[str] = []
    try:
        port = None
        for line in proc.stdout:
            out.append(line)
            m = re.search(r"open http://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        assert port, "".join(out)
        deadline = time.monotonic() + 60
        doc = {}
        while time.monotonic() < deadline and not doc.get("ok"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as r:
                    doc = json.loads(r.read())
            except OSError:
                time.sleep(0.3)
        assert doc.get("ok") and doc["states"] == {"solo": "running"}
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        out.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(out)
    assert proc.returncode == 0, text
    assert "draining the fleet" in text and "room solo drained" in text
    assert "solo-secret-token-42" not in text  # the token is never printed or logged
    log = (tmp_path / "logs" / "events.jsonl").read_text()
    assert [json.loads(x)["event"] for x in log.splitlines()][-2:] == ["draining", "drained"]
    assert "solo-secret-token-42" not in log
