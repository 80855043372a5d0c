"""Which avatar and override file a run uses, and where overrides are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.avatar.gltf_factory import Builder, box, primitive
from vhuman.avatar.loader import sidecar_overrides
from vhuman.avatar.resolve import avatar_choice, resolve_avatar
from vhuman.core.errors import ConfigError
from vhuman.scenes.scene import Scene


def _glb(path: Path) -> Path:
    b = Builder()
    p, n, i = box((0.0, 0.9, 0.0), (0.4, 1.8, 0.3))
    b.mesh("Body", [primitive(b, p, n, i)])
    b.scene([b.node(mesh=0)])
    return b.save_glb(path)


def test_command_line_wins_then_scene_then_builtin(tmp_path):
    scene = Scene(avatar_file=tmp_path / "s.glb", avatar_overrides=tmp_path / "s.yaml")
    assert avatar_choice("x.glb", "o.yaml", scene) == ("x.glb", "o.yaml")
    assert avatar_choice("default", None, scene) == (str(tmp_path / "s.glb"),
                                                     str(tmp_path / "s.yaml"))
    assert avatar_choice("default", "o.yaml", scene) == (str(tmp_path / "s.glb"), "o.yaml")
    assert avatar_choice(None, None, Scene()) == ("default", None)


def test_overrides_reach_the_loaded_avatar_from_every_place(tmp_path):
    fig = _glb(tmp_path / "fig.glb")
    assert sidecar_overrides(fig) is None
    (tmp_path / "fig.vhuman.yaml").write_text("framing: {height: 0.77}\n")
    assert sidecar_overrides(fig) == tmp_path / "fig.vhuman.yaml"
    assert resolve_avatar(str(fig)).frame_height == pytest.approx(0.77)      # beside it
    other = tmp_path / "other.json"
    other.write_text('{"framing": {"height": 0.55}}')
    assert resolve_avatar(str(fig), overrides=other).frame_height == pytest.approx(0.55)


def test_overrides_for_a_builtin_avatar_are_an_error(tmp_path):
    with pytest.raises(ConfigError, match="built-in"):
        resolve_avatar("procedural", overrides=tmp_path / "o.yaml")
