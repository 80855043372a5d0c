"""The live-commerce show: scenes, overlays, show scripts, the runner, chat and control.

- :mod:`~vhuman.scenes.scene` — scene files (background, framing, lights, overlay places,
  the AI label).
- :mod:`~vhuman.scenes.compositor` — overlays drawn into every frame.
- :mod:`~vhuman.scenes.show` — show scripts: load, validate (every problem with file:line).
- :mod:`~vhuman.scenes.runner` — walks a show on the engine clock through a ``ShowHost``.
- :mod:`~vhuman.api.chat` — viewer chat in: limits, moderation, rule matching.
- :mod:`~vhuman.api.control` — the producer protocol on ``/control``.

The format producers write is documented in ``docs/show-format.md``.
"""
