"""The hash-chained audit log: appends chain, any edited byte is found with its line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from vhuman.safety import audit as audit_mod
from vhuman.safety.audit import GENESIS, AuditLog, AuditLogError, verify


def _log(tmp_path, n=5):
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append("capture_started", operator="Zoë 张", frames=i, ok=True)
    return log


def test_records_chain_and_verify(tmp_path):
    log = _log(tmp_path)
    lines = log.path.read_text(encoding="utf-8").splitlines()
    recs = [json.loads(x) for x in lines]
    assert [r["seq"] for r in recs] == [0, 1, 2, 3, 4]
    assert recs[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in zip(recs, recs[1:], strict=False))
    assert recs[2]["fields"] == {"operator": "Zoë 张", "frames": 2, "ok": True}
    res = verify(log.path)
    assert res.ok and res.count == 5 and res.first_bad_line is None
    assert res.last_hash == recs[-1]["hash"]


def test_a_new_logger_continues_the_chain(tmp_path):
    _log(tmp_path, 2)
    rec = AuditLog(tmp_path / "audit.jsonl").append("capture_stopped", frames=9)
    assert rec.seq == 2
    assert verify(tmp_path / "audit.jsonl").ok


def test_every_single_byte_edit_is_detected_with_its_line(tmp_path):
    log = _log(tmp_path, 3)
    data = log.path.read_bytes()
    line_starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A][:-1]
    for pos in range(len(data)):
        for new in {ord("0"), ord(" "), data[pos] ^ 0x01}:
            if new == data[pos]:
                continue
            tampered = bytearray(data)
            tampered[pos] = new
            log.path.write_bytes(bytes(tampered))
            res = verify(log.path)
            expected_line = sum(1 for s in line_starts if s <= pos)
            assert not res.ok, f"edit at byte {pos} -> {chr(new)!r} not detected"
            # The damage is reported at the edited line (or, for a newline turned into
            # something else, where the merged line starts).
            assert res.first_bad_line in (expected_line, expected_line - 1), (pos, res)
    log.path.write_bytes(data)
    assert verify(log.path).ok


@pytest.mark.parametrize("edit", ["delete_middle", "swap", "truncate_last_newline"])
def test_structural_tampering(tmp_path, edit):
    log = _log(tmp_path, 4)
    lines = log.path.read_bytes().splitlines(keepends=True)
    if edit == "delete_middle":
        del lines[1]
        bad = 2
    elif edit == "swap":
        lines[1], lines[2] = lines[2], lines[1]
        bad = 2
    else:
        lines[-1] = lines[-1].rstrip(b"\n")
        bad = 4
    log.path.write_bytes(b"".join(lines))
    res = verify(log.path)
    assert not res.ok and res.first_bad_line == bad


def test_append_refuses_a_damaged_tail(tmp_path):
    log = _log(tmp_path, 2)
    with open(log.path, "ab") as f:
        f.write(b"{broken\n")
    with pytest.raises(AuditLogError, match="damaged"):
        log.append("capture_started")


def test_fields_must_be_json(tmp_path):
    with pytest.raises(AuditLogError, match="JSON"):
        AuditLog(tmp_path / "a.jsonl").append("x", obj=object())
    with pytest.raises(AuditLogError, match="snake_case"):
        AuditLog(tmp_path / "a.jsonl").append("bad name")


def test_concurrent_processes_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    code = ("import sys; from vhuman.safety.audit import AuditLog; "
            "log = AuditLog(sys.argv[1]); [log.append('tick', i=i) for i in range(25)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)]) for _ in range(3)]
    assert all(p.wait(60) == 0 for p in procs)
    res = verify(path)
    assert res.ok and res.count == 75


def test_cli_verify_exit_codes(tmp_path, capsys):
    log = _log(tmp_path, 3)
    parser = argparse.ArgumentParser()
    audit_mod.add_subcommand(parser.add_subparsers())
    args = parser.parse_args(["audit", "verify", str(log.path)])
    assert args.func(args) == 0
    assert "OK, 3 records" in capsys.readouterr().out
    text = log.path.read_text(encoding="utf-8").replace('"frames":1', '"frames":7')
    log.path.write_text(text, encoding="utf-8")
    args = parser.parse_args(["audit", "verify", str(log.path)])
    assert args.func(args) == 1
    assert "line 2" in capsys.readouterr().err


def test_default_path_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("VHUMAN_AUDIT_LOG", str(tmp_path / "x.jsonl"))
    assert AuditLog().path == tmp_path / "x.jsonl"
