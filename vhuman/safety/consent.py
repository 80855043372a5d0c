"""The consent gate: no camera opens until a named operator has agreed to the notice.

Consent is given either interactively (the notice is shown, the operator types their
name) or with ``--consent "operator name"`` on the command line, which states that the
operator has read :data:`NOTICE`. Either way the grant (who, when, purpose, notice version
and the sha256 of the notice text) is appended to the audit log *before* a
:class:`Consent` exists; refusals are logged too. :class:`CaptureDriver` will not start
without a :class:`Consent`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from vhuman.core.errors import VhumanError
from vhuman.safety.audit import AuditLog

NOTICE_VERSION = "1"
DEFAULT_PURPOSE = "drive a virtual avatar's face from live camera capture"
NOTICE = (
    "vhuman camera capture notice (v1)\n"
    "Purpose: {purpose}.\n"
    "The camera image is analysed on this computer to measure facial expression and head\n"
    "pose as numbers (52 expression weights, head rotation, gaze).\n"
    "Camera images are never stored and never sent anywhere; each one is discarded right\n"
    "after it is measured.\n"
    "Only those numbers drive the avatar (and are saved only if you ask for a recording).\n"
    "Consent, and each capture session's start and stop, are written to an audit log.\n"
    "You can withdraw consent at any time by stopping the capture.\n"
)


class ConsentError(VhumanError):
    """Capture was asked for without consent (pass ``--consent NAME`` or run interactively)."""


class ConsentRefused(ConsentError):
    """The operator declined the notice."""


@dataclass(frozen=True, slots=True)
class Consent:
    """Proof that a named operator agreed to the capture notice.

    Attributes:
        operator: who consented.
        granted_at: UTC ISO time of the grant (the audit record's ``ts``).
        purpose: what the capture is for.
        notice_version: version of :data:`NOTICE`.
        notice_sha256: sha256 of the exact notice text shown/agreed to.
        audit_seq: sequence number of the ``consent_granted`` audit record.
        audit_path: the audit log it was written to.
    """

    operator: str
    granted_at: str
    purpose: str
    notice_version: str
    notice_sha256: str
    audit_seq: int
    audit_path: str


def notice_text(purpose: str = DEFAULT_PURPOSE) -> str:
    """The notice as shown to the operator."""
    return NOTICE.format(purpose=purpose)


def require_consent(operator: str | None, *, interactive: bool, audit: AuditLog,
                    purpose: str = DEFAULT_PURPOSE,
                    ask: Callable[[str], str] | None = None) -> Consent:
    """Get consent for camera capture, or raise.

    Args:
        operator: name given with ``--consent``; None if none was given.
        interactive: a person is at the terminal and can be asked.
        audit: where the grant or refusal is recorded.
        purpose: stated in the notice and the record.
        ask: ``ask(prompt) -> answer``; defaults to :func:`input` (the CLI's terminal).

    Returns:
        The :class:`Consent`, already recorded in ``audit``.

    Raises:
        ConsentError: no operator name and not interactive.
        ConsentRefused: the operator declined (recorded as ``consent_refused``).
    """
    text = notice_text(purpose)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    common = {"purpose": purpose, "notice_version": NOTICE_VERSION, "notice_sha256": digest}
    name = (operator or "").strip()
    if interactive:
        prompt = ask or input
        if name:
            answer = prompt(f"{text}\nOperator {name!r}: do you agree? [y/N] ").strip().lower()
            agreed = answer in ("y", "yes")
        else:
            name = prompt(f"{text}\nType your name to agree (empty to decline): ").strip()
            agreed = bool(name)
        if not agreed:
            audit.append("consent_refused", operator=name or None, method="interactive",
                         **common)
            raise ConsentRefused("camera capture declined by the operator; the camera was "
                                 "not opened")
        method = "interactive"
    else:
        if not name:
            raise ConsentError(
                "camera capture needs the operator's consent: pass --consent \"Your Name\" "
                "(stating you have read the capture notice) or run in a terminal to be "
                "shown the notice and asked")
        method = "command_line"
    rec = audit.append("consent_granted", operator=name, method=method, **common)
    return Consent(name, rec.ts, purpose, NOTICE_VERSION, digest, rec.seq, str(audit.path))
