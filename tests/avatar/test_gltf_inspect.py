"""``vhuman avatar inspect``: the report and the CLI behaviour."""

from __future__ import annotations

import argparse

from tests.avatar.gltf_factory import skinned, two_mesh_head, vrm_face
from vhuman.avatar.inspect import add_subcommand, inspect_avatar


def _cli(argv):
    parser = argparse.ArgumentParser(prog="vhuman")
    sub = parser.add_subparsers(dest="command", required=True)
    add_subcommand(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_report_lists_meshes_morphs_coverage_and_unmapped(tmp_path):
    two_mesh_head(tmp_path / "head.glb")
    text = inspect_avatar(tmp_path / "head.glb")
    assert "glTF 2.0 (GLB)" in text
    assert "3 primitives, 72 vertices, 36 triangles" in text
    assert "Head/1" in text and "'eye' mask 2-sided" in text
    assert "jawOpen             <- blendShape1.jawOpen, jawOpen" in text
    assert "mouthSmileLeft      <- mouthSmile (alias)" in text
    assert "4/52 weights move the mesh" in text
    assert "not covered (48)" in text and "tongueOut" in text
    assert "unmapped targets (1): Custom_Thing" in text
    assert "empty targets, all deltas zero, ignored (3): x, y, z" in text
    assert "skeleton none" in text


def test_report_on_skinned_and_vrm(tmp_path):
    skinned(tmp_path / "s.glb", names=("Hips", "Neck", "Bone_9"))
    text = inspect_avatar(tmp_path / "s.glb")
    assert "skeleton 3 joints" in text and "neck           = Neck" in text
    assert "roles not found: " in text and "head" in text.split("roles not found:")[1]
    assert "override file" in text  # tells the user how to fix the missing head
    vrm_face(tmp_path / "f.vrm", "1")
    text = inspect_avatar(tmp_path / "f.vrm")
    assert "[VRM 1.0 (GLB)]" in text
    assert "jawOpen             <- Fcl_MTH_A (expression aa)" in text


def test_cli_prints_report_and_exits_0(tmp_path, capsys):
    two_mesh_head(tmp_path / "head.glb")
    assert _cli(["avatar", "inspect", str(tmp_path / "head.glb")]) == 0
    assert "jawOpen" in capsys.readouterr().out


def test_cli_bad_file_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00\xff\xff\x00\x00garbage")
    assert _cli(["avatar", "inspect", str(bad)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "broken.glb" in lines[0] and "truncated" in lines[0]


def test_cli_bad_override_exits_2(tmp_path, capsys):
    two_mesh_head(tmp_path / "head.glb")
    ovr = tmp_path / "o.json"
    ovr.write_text('{"targets": {"x": "notAShape"}}')
    assert _cli(["avatar", "inspect", str(tmp_path / "head.glb"), "--overrides",
                 str(ovr)]) == 2
    err = capsys.readouterr().err
    assert "o.json" in err and "targets.x" in err


def test_add_subcommand_joins_an_existing_avatar_command(tmp_path):
    parser = argparse.ArgumentParser(prog="vhuman")
    sub = parser.add_subparsers(dest="command")
    avatar = sub.add_parser("avatar")
    inner = avatar.add_subparsers(dest="avatar_command")
    inner.add_parser("build").set_defaults(func=lambda a: 7)
    avatar.vhuman_subparsers = inner
    add_subcommand(sub)
    two_mesh_head(tmp_path / "h.glb")
    assert parser.parse_args(["avatar", "build"]).func(None) == 7
    args = parser.parse_args(["avatar", "inspect", str(tmp_path / "h.glb")])
    assert args.func.__name__ == "run_inspect"
