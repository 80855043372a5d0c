"""Turn the ``--avatar`` setting into an :class:`Avatar`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vhuman.avatar.model import Avatar
from vhuman.core.errors import AvatarLoadError

Progress = Callable[[str, float], None]


def resolve_avatar(spec: str | None, *, progress: Progress | None = None) -> Avatar:
    """Load the avatar named by ``spec``.

    Args:
        spec: "default" or None (the realistic host, built on first run and cached),
            "procedural" (the small built-in bust used by tests), or a path to a
            .glb/.gltf/.vrm file.
        progress: ``progress(stage, fraction)`` for long builds.
    """
    if spec in (None, "", "default"):
        from vhuman.avatar.default_host import load_default_host

        return load_default_host(progress=progress)
    if spec == "procedural":
        from vhuman.avatar.procedural import build_procedural_avatar

        return build_procedural_avatar()
    path = Path(spec).expanduser()
    if not path.exists():
        raise AvatarLoadError(path, "no such file; give a .glb, .gltf or .vrm path, "
                                    "or 'default' / 'procedural'")
    from vhuman.avatar.loader import load_avatar

    return load_avatar(path)
