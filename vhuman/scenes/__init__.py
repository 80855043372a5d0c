"""The live-commerce show: scenes, overlays, show scripts, the runner, chat and control.

- :mod:`~vhuman.scenes.scene` — scene files (background, framing, lights, overlay places,
  the AI label).
- :mod:`~vhuman.scenes.overlays` — overlays drawn into every frame (state, text, sprites,
  product card, background, the compositor's layout).
- :mod:`~vhuman.scenes.show` — the show model: products, segments and steps, chat rules.
- :mod:`~vhuman.scenes.templates` — ``{product.price}``-style values in lines and replies.
- :mod:`~vhuman.scenes.show_loader` — show files: load, validate (every problem with
  file:line), with :mod:`~vhuman.scenes.show_fields` and
  :mod:`~vhuman.scenes.show_chat_loader`.
- :mod:`~vhuman.scenes.yamlsrc` — YAML with line numbers, and the file:line problem list.
- :mod:`~vhuman.scenes.runner` — walks a show on the engine clock through a ``ShowHost``.
- :mod:`~vhuman.api.chat` — viewer chat in: limits, moderation, rule matching.
- :mod:`~vhuman.api.control` — the producer protocol on ``/control``.

The format producers write is documented in ``docs/show-format.md``.
"""
