"""A streaming client for any OpenAI-compatible chat-completions endpoint.

Local llama.cpp (``llama-server`` or ``python -m llama_cpp.server``), Ollama, vLLM and
hosted services all speak ``POST {base}/chat/completions`` with ``"stream": true`` and
answer with server-sent events (``data: {...}`` lines, ending with ``data: [DONE]``).
:class:`SseParser` is the Sans-I/O part (bytes in, event data out, bounded line length);
:class:`LlmClient` is the thin ``httpx`` layer that yields text deltas.

The key comes from the environment (``key: env:OPENAI_API_KEY``) and never appears in a
log line or an error message. Everything from the server is bounded: status bodies are
cut to 300 characters, an answer stops at ``max_chars``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from vhuman.core.errors import ConfigError, MissingDependencyError, VhumanError

_log = logging.getLogger("vhuman.chat.llm")

MAX_LINE_BYTES = 64 << 10
MAX_CHARS = 1200


class LlmError(VhumanError):
    """The endpoint failed or answered something that is not a chat completion."""


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """Where and how to ask.

    Attributes:
        url: the API base (``http://127.0.0.1:8080/v1``) or the full
            ``.../chat/completions`` address.
        model: the model name the server expects.
        key: the API key ("" for local servers); pass ``env:NAME`` through
            :func:`vhuman.chat.source.secret_option` before building this.
        first_sentence_s: the first sentence must be complete by then, else the rule answer
            (or silence) wins.
        total_s: the whole answer must be done by then; what arrived is used.
        max_tokens, temperature: sent to the server.
    """

    url: str
    model: str = "default"
    key: str = ""
    first_sentence_s: float = 2.5
    total_s: float = 8.0
    max_tokens: int = 96
    temperature: float = 0.3

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"llm url must start with http:// or https://, got {self.url!r}")
        if not 0.05 <= self.first_sentence_s <= 60 or not 0.1 <= self.total_s <= 300:
            raise ConfigError("llm first_sentence_s must be in 0.05..60 and total_s in 0.1..300")
        if not 1 <= self.max_tokens <= 4096:
            raise ConfigError(f"llm max_tokens must be 1..4096, got {self.max_tokens}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError(f"llm temperature must be 0..2, got {self.temperature}")

    @property
    def endpoint(self) -> str:
        """The chat-completions address."""
        u = self.url.rstrip("/")
        return u if u.endswith("/chat/completions") else u + "/chat/completions"

    def __repr__(self) -> str:  # never show the key
        return (f"LlmConfig(url={self.url!r}, model={self.model!r}, "
                f"key={'***' if self.key else ''!r})")


class SseParser:
    """Server-sent events, Sans-I/O: ``feed(bytes)`` returns the ``data`` of whole events."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the data of every event they complete."""
        self._buf += chunk
        out: list[str] = []
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                if len(self._buf) > MAX_LINE_BYTES:
                    raise LlmError(f"an event line is longer than {MAX_LINE_BYTES} bytes")
                return out
            raw, self._buf = self._buf[:i], self._buf[i + 1:]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if self._data:
                    out.append("\n".join(self._data))
                    self._data = []
            elif line.startswith("data:"):
                self._data.append(line[5:].lstrip(" "))
                if sum(len(d) for d in self._data) > MAX_LINE_BYTES:
                    raise LlmError("an event is too large")
            # comments (":"), event:, id:, retry: carry nothing we use

    def close(self) -> list[str]:
        """Events left when the stream ends without a final blank line."""
        out = self.feed(b"\n\n") if self._buf or self._data else []
        return out


def _delta(event: str) -> str | None:
    """The text in one streamed chunk (None for [DONE])."""
    if event.strip() == "[DONE]":
        return None
    try:
        obj = json.loads(event)
    except ValueError:
        raise LlmError(f"not a JSON event: {event[:80]!r}") from None
    if isinstance(obj, dict) and "error" in obj:
        raise LlmError(f"the server reported an error: {str(obj['error'])[:200]}")
    try:
        choice = obj["choices"][0]
        piece = (choice.get("delta") or choice.get("message") or {}).get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise LlmError(f"not a chat completion chunk: {event[:80]!r}") from None
    return piece if isinstance(piece, str) else ""


class LlmClient:
    """Streams answers from one endpoint (keeps its HTTP connection between questions)."""

    def __init__(self, config: LlmConfig) -> None:
        try:
            import httpx
        except ModuleNotFoundError:
            raise MissingDependencyError("httpx (LLM replies)", "pip install 'vhuman[chat]'") \
                from None
        self.config = config
        self._httpx = httpx
        self._client: Any = None
        self.requests = 0

    def _http(self) -> Any:
        if self._client is None:
            self._client = self._httpx.AsyncClient(
                timeout=self._httpx.Timeout(self.config.total_s, connect=3.0),
                limits=self._httpx.Limits(max_connections=4))
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connection (a later question opens a new one)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def stream(self, messages: list[dict[str, str]], *,
                     max_chars: int = MAX_CHARS) -> AsyncIterator[str]:
        """Yield text deltas of the answer (bounded to ``max_chars``).

        Raises:
            LlmError: connection failure, HTTP error status or a malformed stream
                (``retryable`` for connection errors and 429/5xx).
        """
        cfg = self.config
        headers = {"Accept": "text/event-stream"}
        if cfg.key:
            headers["Authorization"] = f"Bearer {cfg.key}"
        body = {"model": cfg.model, "messages": messages, "stream": True,
                "max_tokens": cfg.max_tokens, "temperature": cfg.temperature}
        self.requests += 1
        sent = 0
        try:
            async with self._http().stream("POST", cfg.endpoint, json=body,
                                           headers=headers) as resp:
                if resp.status_code != 200:
                    text = (await resp.aread())[:300].decode("utf-8", "replace")
                    raise LlmError(f"{cfg.endpoint} answered HTTP {resp.status_code}: {text}",
                                   retryable=resp.status_code == 429 or resp.status_code >= 500)
                parser = SseParser()
                async for chunk in resp.aiter_bytes():
                    for ev in parser.feed(chunk):
                        piece = _delta(ev)
                        if piece is None:
                            return
                        if piece:
                            piece = piece[:max(0, max_chars - sent)]
                            sent += len(piece)
                            yield piece
                        if sent >= max_chars:
                            return
                for ev in parser.close():
                    piece = _delta(ev)
                    if piece:
                        yield piece[:max(0, max_chars - sent)]
        except self._httpx.HTTPError as exc:
            raise LlmError(f"{cfg.endpoint}: {type(exc).__name__}: {exc}"[:300],
                           retryable=True) from None
