"""The consent gate: logged grants, logged refusals, no camera without consent."""

from __future__ import annotations

import hashlib
import json

import pytest

from vhuman.safety.audit import AuditLog, verify
from vhuman.safety.consent import (
    NOTICE_VERSION,
    Consent,
    ConsentError,
    ConsentRefused,
    notice_text,
    require_consent,
)


@pytest.fixture
def audit(tmp_path):
    return AuditLog(tmp_path / "audit.jsonl")


def _records(audit):
    return [json.loads(x) for x in audit.path.read_text(encoding="utf-8").splitlines()]


def test_command_line_consent_is_recorded(audit):
    c = require_consent("Ana Operator", interactive=False, audit=audit)
    assert isinstance(c, Consent) and c.operator == "Ana Operator"
    (rec,) = _records(audit)
    assert rec["event"] == "consent_granted"
    f = rec["fields"]
    assert f["operator"] == "Ana Operator" and f["method"] == "command_line"
    assert f["notice_version"] == NOTICE_VERSION
    assert f["notice_sha256"] == hashlib.sha256(notice_text().encode()).hexdigest()
    assert c.granted_at == rec["ts"] and c.audit_seq == rec["seq"] == 0
    assert verify(audit.path).ok


def test_no_name_and_no_terminal_is_an_error_and_logs_nothing(audit):
    with pytest.raises(ConsentError, match="--consent"):
        require_consent(None, interactive=False, audit=audit)
    with pytest.raises(ConsentError):
        require_consent("   ", interactive=False, audit=audit)
    assert not audit.path.exists()


def test_interactive_prompt_states_purpose_and_no_storage(audit):
    shown: list[str] = []

    def ask(prompt: str) -> str:
        shown.append(prompt)
        return "Bo Li"

    c = require_consent(None, interactive=True, audit=audit, ask=ask,
                        purpose="host the Tuesday live show")
    assert c.operator == "Bo Li" and c.purpose == "host the Tuesday live show"
    text = shown[0]
    assert "host the Tuesday live show" in text
    assert "never stored and never sent" in text
    assert _records(audit)[0]["fields"]["method"] == "interactive"


@pytest.mark.parametrize("operator,answer", [(None, ""), ("Bo", "n"), ("Bo", "")])
def test_interactive_refusal_is_logged_and_raises(audit, operator, answer):
    with pytest.raises(ConsentRefused):
        require_consent(operator, interactive=True, audit=audit, ask=lambda p: answer)
    (rec,) = _records(audit)
    assert rec["event"] == "consent_refused"


def test_interactive_confirmation_of_a_named_operator(audit):
    c = require_consent("Bo", interactive=True, audit=audit, ask=lambda p: "yes")
    assert c.operator == "Bo"
