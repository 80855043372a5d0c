"""The host talks with the room: chat sources in, grounded replies out, with feeling.

- :mod:`vhuman.chat.source` — the chat-source contract and the supervisor every built-in
  source shares (reconnect with backoff, ``connected / reconnecting / down`` state, the
  ``chat_source_down`` event);
- :mod:`vhuman.chat.bilibili_wire` (Sans-I/O) and :mod:`vhuman.chat.bilibili` — Bilibili
  live danmaku; :mod:`vhuman.chat.webhook` — HTTP POST with a shared secret;
  :mod:`vhuman.chat.push` — messages that arrive on our own ``/chat`` websocket;
- :mod:`vhuman.chat.feeling` — emotion tags and the emotion a line carries;
- :mod:`vhuman.api.grounding`, :mod:`vhuman.chat.llm`, :mod:`vhuman.api.replies` — the
  tiered reply engine (show rules, then an OpenAI-compatible LLM held to the show's facts);
- :mod:`vhuman.chat.thanks` — rate-limited thank-you lines for gifts and follows;
- :mod:`vhuman.api.chat_hub` — sources → the show's chat intake → replies → the runner;
- :mod:`vhuman.chat.config` — the ``chat:`` keys a show adds (sources, llm, persona, thanks)
  and ``--chat NAME[:K=V,...]``.

The user guide is ``docs/chat.md``.
"""
