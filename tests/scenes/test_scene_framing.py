"""The scene's camera framing key (half, the default, or bust)."""

from __future__ import annotations

import pytest

from vhuman.core.errors import ConfigError
from vhuman.scenes.scene import load_scene_text


def test_framing_defaults_to_half_and_takes_bust() -> None:
    assert load_scene_text("name: a\n").camera_framing == "half"
    assert load_scene_text("name: a\ncamera: {framing: bust, zoom: 1.2}\n").camera_framing == "bust"


def test_bad_framing_names_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_scene_text("name: a\ncamera:\n  framing: knees\n", file="s.yaml")
    assert "s.yaml:3: camera.framing must be half or bust" in str(err.value)
