"""Every parser of outside input, fuzzed (fast; benchmarks/fuzz.py runs 10,000 each)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz_targets import targets

TARGETS = {t.name: t for t in targets()}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_parser_survives_hostile_input(name: str) -> None:
    t = TARGETS[name]

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(t.inputs)
    def run(value) -> None:
        t.check(value)

    run()
