"""One entry point for avatar files: :func:`load_avatar`."""

from __future__ import annotations

from pathlib import Path

from vhuman.avatar.model import Avatar
from vhuman.avatar.retarget import Overrides, load_overrides
from vhuman.core.errors import AvatarLoadError

#: File suffixes :func:`load_avatar` reads (content is sniffed too, so these are hints).
SUFFIXES = (".glb", ".gltf", ".vrm")
#: Override files found next to an avatar by convention: ``my.glb`` + ``my.vhuman.yaml``.
SIDECAR_SUFFIXES = (".vhuman.yaml", ".vhuman.yml", ".vhuman.json")


def sidecar_overrides(path: Path | str) -> Path | None:
    """The override file next to ``path`` by convention, or None.

    ``my.glb`` → ``my.vhuman.yaml`` (or ``.yml``, ``.json``).
    """
    path = Path(path)
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def load_avatar(path: Path | str, *, overrides: Path | str | Overrides | None = None) -> Avatar:
    """Load an avatar file (glTF 2.0 JSON, GLB, VRM 0.x or VRM 1.0).

    The format is decided by the content (GLB magic or JSON text), so a ``.vrm`` or a
    misnamed ``.bin`` loads as long as it is really glTF.

    Args:
        path: the avatar file.
        overrides: a per-avatar override file (JSON/YAML, see ``docs/avatars.md``) or an
            already loaded :class:`~vhuman.avatar.retarget.Overrides`. When None, the file
            next to the avatar by convention (:func:`sidecar_overrides`) is used if there
            is one.

    Raises:
        AvatarLoadError: missing, damaged or unsupported file (message names file and
            problem).
        ConfigError: a bad override file (message names file and key).
    """
    from vhuman.avatar.gltf import load_gltf

    path = Path(path)
    if path.suffix.lower() not in SUFFIXES and path.suffix.lower() in (".fbx", ".obj", ".usdz",
                                                                       ".usd", ".dae", ".blend"):
        raise AvatarLoadError(path, f"{path.suffix} files are not read; export the avatar as "
                                    "glTF 2.0 (.glb) or VRM")
    if overrides is None and path.is_file():
        overrides = sidecar_overrides(path)
    ovr = overrides if isinstance(overrides, Overrides) or overrides is None \
        else load_overrides(overrides)
    return load_gltf(path, overrides=ovr)
