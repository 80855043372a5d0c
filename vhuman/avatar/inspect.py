"""``vhuman avatar inspect FILE``: what an avatar file holds and how vhuman will drive it."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from vhuman.avatar.model import ROLES, Avatar
from vhuman.core.arkit import ARKIT_52, N_ARKIT
from vhuman.core.errors import AvatarLoadError, ConfigError


def _format_of(path: Path) -> str:
    from vhuman.avatar.gltf_io import read_asset
    from vhuman.avatar.vrm import read_vrm

    asset = read_asset(path)
    vrm = read_vrm(asset)
    kind = "GLB" if asset.glb_bin is not None or path.read_bytes()[:4] == b"glTF" else "glTF"
    return f"VRM {vrm.version} ({kind})" if vrm else f"glTF 2.0 ({kind})"


def inspect_avatar(path: Path | str, *, overrides: Path | str | None = None) -> str:
    """A readable report on an avatar file.

    Lists meshes and primitives (vertices, triangles, materials, textures), morph targets
    and the ARKit weights they follow, ARKit weights nothing follows, bones and the roles
    found, and what stayed unmapped.

    Raises:
        AvatarLoadError: the file cannot be loaded.
        ConfigError: the override file is bad.
    """
    from vhuman.avatar.loader import load_avatar, sidecar_overrides

    path = Path(path)
    if overrides is None and path.is_file():
        overrides = sidecar_overrides(path)
    avatar = load_avatar(path, overrides=overrides)
    report = render_report(avatar, _format_of(path))
    if overrides is not None:
        head, _, rest = report.partition("\n")
        head2, _, rest = rest.partition("\n")
        report = f"{head}\n{head2}\noverrides {overrides}\n{rest}"
    return report


def render_report(avatar: Avatar, fmt: str = "") -> str:
    """The report text for an already loaded avatar."""
    lines: list[str] = []
    add = lines.append
    n_v = sum(p.n_vertices for p in avatar.parts)
    n_t = sum(int(p.indices.shape[0]) for p in avatar.parts)
    add(f"avatar   {avatar.name}" + (f"  [{fmt}]" if fmt else ""))
    add(f"source   {avatar.source}")
    lo, hi = avatar.bounds()
    size = hi - lo
    add(f"size     {size[0]:.3f} x {size[1]:.3f} x {size[2]:.3f} m (w x h x d); "
        f"{len(avatar.parts)} primitives, {n_v:,} vertices, {n_t:,} triangles")
    if size[1] > 4.0:
        add("warning  taller than 4 m: the file is probably in centimetres; glTF is metres, "
            "so re-export with scale 0.01 (the view is still framed on the head)")
    elif 0 < size[1] < 0.05:
        add("warning  shorter than 5 cm: check the export scale; glTF is metres")
    add("")
    add("primitives")
    for p in avatar.parts:
        m = p.material
        tex = []
        if m.texture is not None:
            tex.append(f"colour {m.texture.shape[1]}x{m.texture.shape[0]}")
        if m.normal_texture is not None:
            tex.append(f"normal {m.normal_texture.shape[1]}x{m.normal_texture.shape[0]}")
        skin = "skinned" if p.joints is not None else "rigid"
        add(f"  {p.name:<28} {p.n_vertices:>7,} v {int(p.indices.shape[0]):>7,} t  "
            f"material {m.name!r} {m.alpha_mode.lower()}"
            f"{' 2-sided' if m.double_sided else ''}"
            f"{' [' + ', '.join(tex) + ']' if tex else ''}  {skin}, "
            f"{len(set(p.morph_ids.tolist()))} ARKit morphs")
    add("")
    # One table, from the baked morphs: a weight is listed as mapped only when it moves
    # vertices, so "mapped" and "not covered" can never both name it.
    have = avatar.arkit_coverage()
    add(f"ARKit    {int(have.sum())}/{N_ARKIT} weights move the mesh "
        "(source target, and how it was matched when not by name)")
    for name, ok in zip(ARKIT_52, have, strict=True):
        if ok:
            add(f"  {name:<19} <- {', '.join(avatar.mapped.get(name) or ['?'])}")
    missing = [n for n, ok in zip(ARKIT_52, have, strict=True) if not ok]
    if missing:
        _wrapped(add, f"  not covered ({len(missing)}): ", missing)
    if avatar.empty_targets:
        _wrapped(add, f"  empty targets, all deltas zero, ignored ({len(avatar.empty_targets)}): ",
                 avatar.empty_targets)
    if avatar.unmapped:
        _wrapped(add, f"  unmapped targets ({len(avatar.unmapped)}): ", avatar.unmapped)
    add("")
    sk = avatar.skeleton
    if sk is None:
        hp = avatar.head_pivot
        add(f"skeleton none (rigid avatar: the head turns about ({hp[0]:.3f}, {hp[1]:.3f}, "
            f"{hp[2]:.3f}))")
    else:
        add(f"skeleton {len(sk.names)} joints")
        for role in ROLES:
            if role in sk.roles:
                add(f"  {role:<14} = {sk.names[sk.roles[role]]}")
        lacking = [r for r in ROLES if r not in sk.roles]
        if lacking:
            add(f"  roles not found: {', '.join(lacking)}"
                + ("  (add them under 'bones' in an override file)"
                   if "head" in lacking or "neck" in lacking else ""))
    add("")
    c = avatar.frame_center
    if avatar.facing:
        add(f"facing   {avatar.facing}")
    add(f"framing  looks at ({c[0]:.3f}, {c[1]:.3f}, {c[2]:.3f}), "
        f"{avatar.frame_height:.3f} m tall view"
        + ("  (set 'facing' or 'framing' in an override file to change them)"
           if avatar.facing else ""))
    return "\n".join(lines)


def _wrapped(add, head: str, items: list[str]) -> None:
    text = textwrap.fill(", ".join(items), width=100, initial_indent=head,
                         subsequent_indent=" " * 6, break_on_hyphens=False)
    for line in text.splitlines():
        add(line)


def add_subcommand(subparsers: argparse._SubParsersAction) -> None:
    """Add ``avatar inspect FILE [--overrides F]`` to the CLI.

    Reuses an ``avatar`` command another module already added (its sub-action is kept
    on the parser as ``vhuman_subparsers``).
    """
    avatar = subparsers.choices.get("avatar") if hasattr(subparsers, "choices") else None
    if avatar is None:
        avatar = subparsers.add_parser("avatar", help="avatar files: inspect, ...")
    sub = getattr(avatar, "vhuman_subparsers", None)
    if sub is None:
        sub = avatar.add_subparsers(dest="avatar_command", metavar="COMMAND")
        sub.required = True
        avatar.vhuman_subparsers = sub
    p = sub.add_parser("inspect", help="report what an avatar file holds and how it maps to "
                                       "ARKit",
                       description="Load a glTF/GLB/VRM avatar and report meshes, materials, "
                                   "morph targets → ARKit-52, bones and roles.")
    p.add_argument("file", type=Path, help="avatar file (.glb, .gltf, .vrm)")
    p.add_argument("--overrides", type=Path, default=None,
                   help="per-avatar override file (JSON or YAML; see docs/avatars.md)")
    p.set_defaults(func=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    """CLI body: print the report; exit 2 with one line on a bad file."""
    try:
        report = inspect_avatar(args.file, overrides=args.overrides)
    except (AvatarLoadError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0
