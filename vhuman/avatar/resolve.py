"""Turn the ``--avatar`` setting into an :class:`Avatar`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vhuman.avatar.model import Avatar
from vhuman.core.errors import AvatarLoadError, ConfigError

Progress = Callable[[str, float], None]


def resolve_avatar(spec: str | None, *, overrides: str | Path | None = None,
                   progress: Progress | None = None) -> Avatar:
    """Load the avatar named by ``spec``.

    Args:
        spec: "default" or None (the realistic host, built on first run and cached),
            "procedural" (the small built-in bust used by tests), or a path to a
            .glb/.gltf/.vrm file.
        overrides: an override file for that avatar file (``--avatar-overrides``); None
            uses ``<avatar>.vhuman.yaml`` next to it when there is one.
        progress: ``progress(stage, fraction)`` for long builds.

    Raises:
        AvatarLoadError: a missing or unusable avatar file.
        ConfigError: overrides given for a built-in avatar, or a bad override file.
    """
    if overrides is not None and spec in (None, "", "default", "procedural"):
        raise ConfigError(f"avatar overrides ({overrides}) apply to an avatar file; the "
                          f"built-in {spec or 'default'!r} avatar takes none")
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

    return load_avatar(path, overrides=overrides)


def avatar_choice(cli_avatar: str | None, cli_overrides: str | None,
                  scene: Any = None) -> tuple[str, str | None]:
    """Which avatar file and override file a run uses: ``(spec, overrides)``.

    The command line wins: an ``--avatar`` other than "default" is used as given (with
    ``--avatar-overrides``). Otherwise a scene's ``avatar.file`` (and its
    ``avatar.overrides``) is used, and ``--avatar-overrides`` still beats the scene's
    overrides. Without either, the built-in host.
    """
    spec = cli_avatar or "default"
    scene_file = getattr(scene, "avatar_file", None)
    if spec == "default" and scene_file is not None:
        scene_ovr = getattr(scene, "avatar_overrides", None)
        ovr = cli_overrides if cli_overrides is not None else (
            str(scene_ovr) if scene_ovr is not None else None)
        return str(scene_file), ovr
    return spec, cli_overrides
