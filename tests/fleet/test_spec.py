"""The fleet file: valid files load; every mistake is reported with file:line and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhuman.cli import main
from vhuman.core.errors import ConfigError
from vhuman.fleet.process import room_argv
from vhuman.fleet.spec import MAX_FILE_BYTES, load_fleet, load_fleet_text
from vhuman.scenes.yamlsrc import FileProblems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "fleets" / "two_rooms.yaml"
SHOW = ROOT / "tests" / "fleet" / "segments.yaml"


def problems(text: str, env: dict[str, str] | None = None, tmp: Path | None = None) -> list[str]:
    file = (tmp or ROOT / "tests" / "fleet") / "fleet.yaml"
    with pytest.raises(FileProblems) as exc:
        load_fleet_text(text, file, env=env or {})
    return [str(p) for p in exc.value.problems]


def test_example_fleet_loads():
    spec = load_fleet(EXAMPLE, env={})
    assert [r.id for r in spec.rooms] == ["tea-en", "tea-zh"]
    tea = spec.rooms[0]
    assert tea.size == (640, 360) and tea.fps == 30 and tea.avatar == "procedural"
    assert Path(tea.show).is_file() and tea.show.endswith("demo_en.yaml")
    assert spec.gateway.port == 8800 and spec.supervise.hang_s == 10


def test_secrets_are_env_references_and_never_on_the_command_line():
    env = {"TEA_TOKEN": "s3cret-token", "TEA_PUSH": "rtmp://x.example/live/KEY?sig=1"}
    spec = load_fleet_text(f"""
rooms:
  - id: tea
    show: {SHOW}
    token: env:TEA_TOKEN
    push: [env:TEA_PUSH]
    resources: {{cpus: 0.5, gpu: 0.25, custom: {{room_slot: 1}}}}
""", ROOT / "f.yaml", env=env)
    room = spec.rooms[0]
    assert room.token_env == "TEA_TOKEN" and room.push == ("TEA_PUSH",)
    assert room.resources.gpu == 0.25 and room.resources.custom == (("room_slot", 1.0),)
    argv = " ".join(room_argv(room))
    assert "s3cret" not in argv and "KEY" not in argv and "--push env:TEA_PUSH" in argv


def test_inline_secrets_are_refused_with_the_line():
    out = problems("""rooms:
  - id: tea
    token: hunter2
    push: [rtmp://x.example/live/KEY]
""")
    assert any(":3: room tea.token must be env:NAME" in p and "inline secrets" in p for p in out)
    assert any(":4: room tea.push must be env:NAME" in p for p in out)
    assert not any("hunter2" in p or "KEY" in p for p in out)  # the secret is not echoed


def test_every_problem_has_file_line_and_fix():
    out = problems("""name: bad
gatway: {port: 1}
rooms:
  - id: Tea Room
  - id: ok
    size: 100x50
    fps: 500
    codec: vp9
    show: nope.yaml
    token: env:NOT_SET_ANYWHERE
  - id: ok
""")
    text = "\n".join(out)
    assert "fleet.yaml:2: unknown key 'gatway' in the fleet file — did you mean 'gateway'?" in text
    assert "fleet.yaml:4: rooms[0].id must be 1-40 of a-z 0-9 _ -" in text
    assert "fleet.yaml:6: room ok.size 100x50 is below 160x120" in text
    assert "fleet.yaml:7: room ok.fps must be a number 1..120" in text
    assert "fleet.yaml:8: room ok.codec must be one of jpeg, h264" in text
    assert "fleet.yaml:9: room ok.show: file 'nope.yaml' not found" in text
    assert "fleet.yaml:10: room ok.token: environment variable NOT_SET_ANYWHERE is empty" in text
    assert "fleet.yaml:11: room id 'ok' is used twice (first on line 5)" in text


def test_yaml_aliases_and_oversize_files_are_refused():
    out = problems("""defaults: &d {fps: 15}
rooms:
  - id: a
    <<: *d
""")
    assert any(":1: YAML anchor" in p for p in out) and any(":4: YAML alias" in p for p in out)
    with pytest.raises(FileProblems, match="byte limit"):
        load_fleet_text("#" * (MAX_FILE_BYTES + 1), "big.yaml", env={})


def test_fleet_check_command(tmp_path, capsys):
    assert main(["fleet", str(EXAMPLE), "--check"]) == 0
    assert "ok, 2 rooms: tea-en, tea-zh" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("rooms: []\n")
    assert main(["fleet", str(bad), "--check"]) == 2
    assert f"{bad}:1: rooms must be a non-empty list" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not found"):
        load_fleet(tmp_path / "missing.yaml")


def test_ray_mode_without_ray_says_how_to_install(monkeypatch):
    import importlib
    import sys

    from vhuman.core.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "vhuman.fleet.raybackend", raising=False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'vhuman\[fleet\]'"):
        importlib.import_module("vhuman.fleet.raybackend")
