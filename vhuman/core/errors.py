"""The vhuman exception tree.

Every error the library raises on purpose derives from :class:`VhumanError` and says
whether retrying the same call can help (``retryable``), following livekit's
``APIError(retryable=...)``. Library code raises; only the CLI turns errors into exit codes.

- :class:`VhumanError`
  - :class:`ConfigError` – bad user input (arguments, config files); never retryable.
  - :class:`AvatarLoadError` – an avatar file is malformed or uses something unsupported.
  - :class:`ProtocolError` – a wire message does not follow ``vhuman.media/1``.
  - :class:`MissingDependencyError` – an optional extra is not installed; says how to fix.
  - :class:`RenderError` – the GL context or a draw failed.
  - :class:`ModerationBlocked` – a text to speak or show holds a blocked term.
  - :class:`BadText` (a :class:`ConfigError`) – a text holds a control character, a bidi
    override or a lone surrogate.
"""

from __future__ import annotations


class VhumanError(Exception):
    """Base of every error vhuman raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ConfigError(VhumanError):
    """A user-supplied setting is invalid."""


class AvatarLoadError(VhumanError):
    """An avatar file cannot be loaded; the message names the file and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class ProtocolError(VhumanError):
    """A message on the wire is malformed."""


class MissingDependencyError(VhumanError):
    """An optional dependency is missing; the message carries the install command."""

    def __init__(self, what: str, install: str) -> None:
        super().__init__(f"{what} is not installed; install it with: {install}")
        self.install = install


class RenderError(VhumanError):
    """Rendering failed (no GL context, shader error, ...)."""

    retryable = True


class ModerationBlocked(VhumanError):
    """A text was refused by the moderation gate; nothing of it was spoken or shown.

    Attributes:
        hits: the moderation hits (objects with ``to_dict()``).
        suggestion: the text with the blocked terms replaced, where the lists know how.
    """

    def __init__(self, hits: list, suggestion: str = "") -> None:
        terms = ", ".join(dict.fromkeys(getattr(h, "term", str(h)) for h in hits))
        super().__init__(f"blocked by moderation: {terms}")
        self.hits = list(hits)
        self.suggestion = suggestion


class BadText(ConfigError):
    """A text cannot go on air or on the wire.

    It holds a control character, a bidi override or a lone UTF-16 surrogate; the message
    says which character and where.
    """
