"""What the default-host build depends on, kept free of heavy imports.

Loading a cached host needs the cache key and the post-load fix-ups but not the builder
(which pulls in scipy); they live here so a cache hit stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vhuman.avatar.makehuman import data
from vhuman.avatar.model import Avatar
from vhuman.core.arkit import ARKIT_52

#: Bump when the output changes so caches rebuild.
BUILDER_VERSION = "7"

#: Identity: MakeHuman macro targets and weights applied to base.obj (young adult woman).
IDENTITY: tuple[tuple[str, float], ...] = (
    ("mpfb2/targets/macrodetails/universal-female-young-averagemuscle-averageweight.target.gz",
     1.0),
    ("mpfb2/targets/macrodetails/caucasian-female-young.target.gz", 0.55),
    ("mpfb2/targets/macrodetails/asian-female-young.target.gz", 0.45),
)

#: Cut height in source decimetres: keeps shoulders and the upper arms to about mid-way.
CUT_Y_DM = 2.5


def input_files(root: Path) -> list[Path]:
    """Every file the build reads (the cache key hashes them)."""
    files = [root / data.BASE_OBJ, root / data.RIG, root / data.WEIGHTS,
             root / "mpfb2/mesh_metadata/basemesh_vertex_groups.json"]
    files += [root / rel for rel, _ in IDENTITY]
    files += [root / data.FACEUNITS / f"{n}.target" for n in ARKIT_52]
    files += [root / data.TEXTURES / f"mpfb_{n}.jpg"
              for n in ("lips", "inside-mouth", "ears", "eyelids")]
    return files


#: Skin-like wrap lighting per material; glTF has no field for it, so loads restore it.
MATERIAL_WRAP = {"skin": 0.35, "top": 0.15, "hair": 0.1, "tongue": 0.3, "eyes": 0.0,
                 "teeth": 0.0, "lashes": 0.0}


def frame_host(avatar: Avatar) -> None:
    """Head-and-shoulders framing: the face as centre, 0.5 m visible vertically."""
    sk = avatar.skeleton
    assert sk is not None

    def at(role: str) -> np.ndarray:
        return np.linalg.inv(sk.inverse_bind[sk.roles[role]].astype(np.float64))[:3, 3]

    eyes = (at("leftEye") + at("rightEye")) / 2
    # the face (between the eyes and the nose tip); the camera puts it in the upper third
    avatar.frame_center = (eyes + np.array([0.0, -0.02, 0.0])).astype(np.float32)
    avatar.frame_height = 0.50
    avatar.head_pivot = at("neck").astype(np.float32)
