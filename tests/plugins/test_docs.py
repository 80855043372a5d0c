"""The code a plugin author copies from docs/plugins.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_skeleton_and_isolation_check_from_the_docs_run():
    blocks = _python_blocks(DOC.read_text(encoding="utf-8"))
    skeleton = next(b for b in blocks if "class MyDriver" in b)
    check = next(b for b in blocks if "IsolatedDriver(MyDriver()" in b)
    ns: dict = {"__name__": "docs_skeleton"}
    exec(compile(skeleton, "plugins.md:skeleton", "exec"), ns)
    exec(compile(check, "plugins.md:check", "exec"), ns)  # runs 10 s of ticks; asserts inside

    # The skeleton really opens the mouth and drives only the mouth region.
    from vhuman.core.arkit import INDEX, REGIONS

    driver = ns["MyDriver"](gain="2")
    driver._latest = 0.3
    pose = driver.sample(5)
    assert pose.weights[INDEX["jawOpen"]] == np.float32(0.6)
    driven = {n for n, i in INDEX.items() if pose.mask[i] > 0}
    assert driven == set(REGIONS["mouth"])
