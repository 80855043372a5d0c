"""Append-only, hash-chained audit log (JSONL).

Each line is one canonical JSON object (sorted keys, no spaces, UTF-8)::

    {"event":"consent_granted","fields":{...},"hash":"<sha256>","prev":"<sha256>",
     "seq":0,"ts":"2026-11-23T09:30:00.123Z"}

``hash`` is the sha256 of the canonical JSON of the line *without* ``hash``; ``prev`` is the
previous line's ``hash`` (64 zeros on the first line). Changing, inserting, deleting or
reordering any line breaks the chain at that line, and because each line must also be
byte-for-byte canonical, even a one-byte edit that parses to the same values is caught.
Removing lines from the *end* cannot be seen from the file alone: keep the last hash
somewhere else (``vhuman audit verify`` prints it) if that matters.

Appends take an exclusive ``flock`` so several engine processes can share one log.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vhuman.core.errors import VhumanError

GENESIS = "0" * 64
_KEYS = {"seq", "ts", "event", "fields", "prev", "hash"}


class AuditLogError(VhumanError):
    """The audit log cannot be appended to (unreadable tail, bad event name, I/O error)."""


def default_audit_path() -> Path:
    """``$VHUMAN_AUDIT_LOG``, else ``$XDG_STATE_HOME/vhuman/audit.jsonl`` (~/.local/state)."""
    env = os.environ.get("VHUMAN_AUDIT_LOG")
    if env:
        return Path(env).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "vhuman" / "audit.jsonl"


def canonical(obj: Any) -> str:
    """The one JSON spelling of ``obj`` that hashes are computed over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _digest(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _utc_now() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) \
        + f".{ns // 1_000_000 % 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One appended line."""

    seq: int
    ts: str
    event: str
    fields: dict[str, Any]
    prev: str
    hash: str


class AuditLog:
    """An append-only audit log file.

    Args:
        path: the JSONL file (created with its folder on first append).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_audit_path()

    def append(self, event: str, **fields: Any) -> AuditRecord:
        """Append one event; returns the record written.

        Args:
            event: a short snake_case name (``consent_granted``, ``capture_started``...).
            **fields: JSON-serialisable details.

        Raises:
            AuditLogError: bad event name, unserialisable fields, or the last line of the
                file is not a valid record (the log was damaged: run ``vhuman audit verify``).
        """
        if not event or not event.replace("_", "").isalnum():
            raise AuditLogError(f"audit event name {event!r} must be snake_case letters/digits")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        with os.fdopen(fd, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                seq, prev = self._tail(f)
                record = {"seq": seq, "ts": _utc_now(), "event": event,
                          "fields": fields, "prev": prev}
                try:
                    record["hash"] = _digest(record)
                    line = canonical(record) + "\n"
                except (TypeError, ValueError) as exc:
                    raise AuditLogError(
                        f"audit event {event!r}: fields must be JSON values: {exc}") from None
                f.write(line.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return AuditRecord(seq, record["ts"], event, fields, prev, record["hash"])

    def _tail(self, f) -> tuple[int, str]:
        """(next seq, last hash) from the file's last line."""
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return 0, GENESIS
        block = 4096
        buf = b""
        pos = size
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
            if buf.rstrip(b"\n").count(b"\n") >= 1:
                break
        last = buf.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            rec = json.loads(last.decode("utf-8"))
            return int(rec["seq"]) + 1, str(rec["hash"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise AuditLogError(
                f"{self.path}: the last line is not an audit record; the log is damaged. "
                f"Run `vhuman audit verify {self.path}` and start a new log file") from None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :func:`verify`.

    Attributes:
        ok: the whole chain is intact.
        count: records checked and found good (before the first bad one).
        first_bad_line: 1-based line number of the first bad line, or None.
        reason: what is wrong there ("" when ok).
        last_hash: hash of the last good record (keep it elsewhere to detect truncation).
    """

    ok: bool
    count: int
    first_bad_line: int | None
    reason: str
    last_hash: str = GENESIS


def verify(path: str | Path) -> VerifyResult:
    """Check every line of an audit log: canonical form, sequence, chain and hashes."""
    path = Path(path).expanduser()
    prev = GENESIS
    count = 0
    try:
        data = path.read_bytes()
    except OSError as exc:
        return VerifyResult(False, 0, None, f"cannot read {path}: {exc.strerror or exc}")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for lineno, raw in enumerate(lines, start=1):
        def bad(reason: str, lineno: int = lineno, count: int = count,
                prev: str = prev) -> VerifyResult:
            return VerifyResult(False, count, lineno, reason, prev)

        try:
            text = raw.decode("utf-8")
            rec = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            return bad(f"not valid JSON: {exc}")
        if not isinstance(rec, dict) or set(rec) != _KEYS:
            return bad(f"expected keys {sorted(_KEYS)}")
        if rec["seq"] != count:
            return bad(f"seq is {rec['seq']!r}, expected {count} (lines removed or reordered)")
        if rec["prev"] != prev:
            return bad("prev does not match the previous line's hash (chain broken)")
        if not isinstance(rec["fields"], dict) or not isinstance(rec["event"], str):
            return bad("event must be a string and fields an object")
        if rec["hash"] != _digest(rec):
            return bad("hash does not match the line's content (line edited)")
        if canonical(rec) != text:
            return bad("line is not in canonical form (bytes edited)")
        prev = rec["hash"]
        count += 1
    if data and not data.endswith(b"\n"):
        # The last line parsed but was cut (or edited) where its newline should be.
        return VerifyResult(False, max(count - 1, 0), len(lines),
                            "last line has no newline (cut short or edited)", prev)
    return VerifyResult(True, count, None, "", prev)


def add_subcommand(subparsers) -> None:
    """Add ``vhuman audit verify [PATH]`` (exit 0 intact, 1 tampered/unreadable)."""
    parser = subparsers.add_parser("audit", help="inspect the consent/capture audit log")
    sub = parser.add_subparsers(dest="audit_cmd", required=True)
    ver = sub.add_parser("verify", help="check the hash chain of an audit log")
    ver.add_argument("path", nargs="?", default=None,
                     help=f"log file (default: {default_audit_path()})")
    ver.set_defaults(func=_cmd_verify)


def _cmd_verify(args) -> int:
    path = Path(args.path) if args.path else default_audit_path()
    result = verify(path)
    if result.ok:
        print(f"{path}: OK, {result.count} records, last hash {result.last_hash}")
        return 0
    where = f"line {result.first_bad_line}: " if result.first_bad_line else ""
    print(f"{path}: TAMPERED or damaged: {where}{result.reason} "
          f"({result.count} records before it are intact)", file=sys.stderr)
    return 1
