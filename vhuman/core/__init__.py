"""The ground floor: value types every package may import, importing nothing of ours.

- :mod:`~vhuman.core.clock` — the stream clock (``SystemClock``, ``SimClock``), ns times.
- :mod:`~vhuman.core.frames` — frozen frames: ``Pose``, ``AvatarState``, ``AudioChunk``,
  ``VideoFrame`` and the media stream's markers.
- :mod:`~vhuman.core.quat` — quaternion helpers (w, x, y, z).
- :mod:`~vhuman.core.events` — the event bus (emit from any thread, delivered on the loop).
- :mod:`~vhuman.core.arkit` — the 52 ARKit blendshape names and their aliases.
- :mod:`~vhuman.core.errors` — the exception tree (``retryable``, exit codes).
"""
