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


def test_found_by_fuzzing_a_huge_price_is_a_clear_error() -> None:
    from tests.fuzz_targets import SHOW_TEXT
    from vhuman.core.errors import ConfigError
    from vhuman.scenes.show_loader import load_show_text

    with pytest.raises(ConfigError, match="fuzz.yaml:3"):
        load_show_text(SHOW_TEXT.replace("original_price: 20", "original_price: 1e99920"),
                       "fuzz.yaml")


def test_found_by_fuzzing_an_infinite_take_time_is_a_clear_error(tmp_path) -> None:
    from vhuman.core.errors import ConfigError
    from vhuman.drivers.replay import Take

    p = tmp_path / "t.jsonl"
    p.write_text('{"format": "vhuman.take/1"}\n{"t_ns": 1e999, "w": null}\n')
    with pytest.raises(ConfigError, match="line 2: 't_ns' must be a whole number"):
        Take.load(p)


def test_found_by_fuzzing_a_gaze_of_the_wrong_length_is_a_clear_error(tmp_path) -> None:
    from vhuman.core.errors import ConfigError
    from vhuman.drivers.replay import Take

    p = tmp_path / "t.jsonl"
    p.write_text('{"format": "vhuman.take/1"}\n{"t_ns": 0, "w": null, "gaze": [0, 0]}\n'
                 '{"t_ns": 5, "w": null, "gaze": [0]}\n')
    with pytest.raises(ConfigError, match="line 3: 'gaze' must be 2 numbers"):
        Take.load(p)
