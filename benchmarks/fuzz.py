"""Fuzz every parser of outside input with N hypothesis inputs each; JSON out.

    .venv/bin/python benchmarks/fuzz.py [--n 10000] [--only show_yaml,glb] [--out F.json]

Targets (tests/fuzz_targets.py): vhuman.media/1 packets and hello, /control and /chat
JSON, show and scene YAML, replay takes, GLB. Each input must parse or fail with the
project's own one-line error; any other exception is a failure (shrunk by hypothesis and
printed). Exit status 1 if any parser failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings

from benchmarks._common import emit_json
from tests.fuzz_targets import targets


def run_target(t, n: int) -> dict:
    count = [0]

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(t.inputs)
    def run(value) -> None:
        count[0] += 1
        t.check(value)

    t0 = time.perf_counter()
    failure = None
    try:
        run()
    except BaseException as exc:  # noqa: BLE001 - report, go on with the next parser
        failure = "".join(traceback.format_exception_only(type(exc), exc)).strip()[-2000:]
    return {"inputs": count[0], "uncaught": 0 if failure is None else 1, "failure": failure,
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    logging.disable(logging.WARNING)  # parsers log what they refuse; the counts matter here
    only = {x for x in a.only.split(",") if x}
    results = {t.name: run_target(t, a.n) for t in targets() if not only or t.name in only}
    doc = {"n_per_parser": a.n, "parsers": results,
           "ok": all(r["uncaught"] == 0 for r in results.values())}
    emit_json(doc, a.out, ensure_ascii=False)
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
