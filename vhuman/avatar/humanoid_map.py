"""Map any avatar's skeleton onto the humanoid body vocabulary.

An avatar's joints come with whatever names its tool gave them. This module finds, for each
bone of :data:`vhuman.core.humanoid.HUMANOID_BONES`, the joint that plays it:

1. the VRM humanoid table when the file has one (``Skeleton.humanoid``, authoritative);
2. otherwise the joint's name, matched against the naming schemes of the tools hosts are
   made with: VRM 1.0 bone names used as joint names, VRoid's ``J_Bip_L_UpperArm``,
   Mixamo's ``mixamorig:LeftForeArm`` (Ready Player Me uses the same names without the
   prefix), Unreal/MakeHuman game-engine ``upperarm_l`` and MakeHuman's own rig
   (``upperarm01.L``, ``finger2-1.L``).

Pure functions over names: no file access, no numpy.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from vhuman.core.humanoid import BODY_BONES, BODY_REGIONS, HUMANOID_BONES

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Little")
_VRM_JOINTS = {"Thumb": ("Metacarpal", "Proximal", "Distal"),
               "Index": ("Proximal", "Intermediate", "Distal"),
               "Middle": ("Proximal", "Intermediate", "Distal"),
               "Ring": ("Proximal", "Intermediate", "Distal"),
               "Little": ("Proximal", "Intermediate", "Distal")}


def _norm(name: str) -> str:
    """Lower-case, without namespace prefixes (``mixamorig:``, ``Armature|``)."""
    n = name.strip()
    for sep in (":", "|"):
        if sep in n:
            n = n.rsplit(sep, 1)[1]
    n = re.sub(r"^mixamorig\d*_?", "", n, flags=re.IGNORECASE)
    return n.lower()


def _build_table() -> dict[str, str]:
    """Normalised joint name → humanoid bone, over every scheme we know."""
    t: dict[str, str] = {}

    def add(bone: str, *names: str) -> None:
        for n in names:
            t.setdefault(_norm(n), bone)

    for b in HUMANOID_BONES:  # VRM 1.0 names used literally
        add(b, b)
    # torso and head
    add("hips", "Hips", "J_Bip_C_Hips", "root", "pelvis")
    add("spine", "Spine", "J_Bip_C_Spine", "spine03", "spine_01")
    add("chest", "Spine1", "J_Bip_C_Chest", "spine02", "spine_02")
    add("upperChest", "Spine2", "J_Bip_C_UpperChest", "spine01", "spine_03")
    add("neck", "Neck", "J_Bip_C_Neck", "neck01", "neck_01")
    add("head", "Head", "J_Bip_C_Head", "head")
    add("jaw", "J_Bip_C_Jaw", "jaw")
    for side, s, mh, ue, cap in (("left", "L", "L", "l", "Left"),
                                 ("right", "R", "R", "r", "Right")):
        add(f"{side}Eye", f"{cap}Eye", f"J_Adj_{s}_FaceEye", f"eye.{mh}", f"eye_{ue}")
        add(f"{side}Shoulder", f"{cap}Shoulder", f"J_Bip_{s}_Shoulder", f"clavicle.{mh}",
            f"clavicle_{ue}")
        add(f"{side}UpperArm", f"{cap}Arm", f"J_Bip_{s}_UpperArm", f"upperarm01.{mh}",
            f"upperarm_{ue}")
        add(f"{side}LowerArm", f"{cap}ForeArm", f"J_Bip_{s}_LowerArm", f"lowerarm01.{mh}",
            f"lowerarm_{ue}")
        add(f"{side}Hand", f"{cap}Hand", f"J_Bip_{s}_Hand", f"wrist.{mh}", f"hand_{ue}")
        add(f"{side}UpperLeg", f"{cap}UpLeg", f"J_Bip_{s}_UpperLeg", f"upperleg01.{mh}",
            f"thigh_{ue}")
        add(f"{side}LowerLeg", f"{cap}Leg", f"J_Bip_{s}_LowerLeg", f"lowerleg01.{mh}",
            f"calf_{ue}")
        add(f"{side}Foot", f"{cap}Foot", f"J_Bip_{s}_Foot", f"foot.{mh}", f"foot_{ue}")
        add(f"{side}Toes", f"{cap}ToeBase", f"J_Bip_{s}_ToeBase", f"ball_{ue}")
        mixamo = {"Thumb": "Thumb", "Index": "Index", "Middle": "Middle", "Ring": "Ring",
                  "Little": "Pinky"}
        ue_f = {"Thumb": "thumb", "Index": "index", "Middle": "middle", "Ring": "ring",
                "Little": "pinky"}
        for k, f in enumerate(_FINGERS, start=1):
            for j, joint in enumerate(_VRM_JOINTS[f], start=1):
                bone = f"{side}{f}{joint}"
                add(bone, f"{cap}Hand{mixamo[f]}{j}", f"J_Bip_{s}_{f}{j}",
                    f"finger{k}-{j}.{mh}", f"{ue_f[f]}_0{j}_{ue}")
    return t


_TABLE = _build_table()


def bone_for_name(name: str) -> str | None:
    """The humanoid bone a joint name means, or ``None``."""
    return _TABLE.get(_norm(name))


@dataclass(frozen=True, slots=True)
class BoneMap:
    """Which joint plays each humanoid bone.

    Attributes:
        joints: humanoid bone name → joint index in the skeleton.
        names: the skeleton's joint names (for reports).
        source: how it was found: "vrm", "names" or "vrm+names".
    """

    joints: dict[str, int]
    names: tuple[str, ...]
    source: str

    def missing(self, bones: Sequence[str] = BODY_BONES) -> list[str]:
        """Bones of ``bones`` that no joint plays."""
        return [b for b in bones if b not in self.joints]

    def regions(self) -> dict[str, bool]:
        """Per body region: can it move (its first bone, e.g. the upper arm, is mapped)?"""
        return {r: any(b in self.joints for b in bones) for r, bones in BODY_REGIONS.items()}

    @property
    def has_arms(self) -> bool:
        """Both upper and lower arms of at least one side are mapped."""
        return any(f"{s}UpperArm" in self.joints and f"{s}LowerArm" in self.joints
                   for s in ("left", "right"))


def map_avatar(skeleton) -> BoneMap | None:
    """:func:`map_skeleton` for an avatar's :class:`~vhuman.avatar.model.Skeleton`."""
    if skeleton is None:
        return None
    return map_skeleton(skeleton.names, getattr(skeleton, "humanoid", None))


def map_skeleton(names: Sequence[str], vrm: dict[str, int] | None = None) -> BoneMap:
    """Map joint ``names`` (and an optional VRM humanoid table) onto the vocabulary.

    Args:
        names: joint names in skeleton order.
        vrm: VRM 1.0 humanoid bone name → joint index, when the file declares one
            (``Skeleton.humanoid``); it wins over names.
    """
    joints: dict[str, int] = {}
    used_vrm = False
    for bone, index in (vrm or {}).items():
        b = bone
        if b in HUMANOID_BONES and 0 <= index < len(names):
            joints[b] = index
            used_vrm = True
    used_names = False
    for i, name in enumerate(names):
        b = bone_for_name(name)
        if b is not None and b not in joints and i not in joints.values():
            joints[b] = i
            used_names = True
    source = "+".join(s for s, u in (("vrm", used_vrm), ("names", used_names)) if u) or "none"
    return BoneMap(joints, tuple(names), source)


def report_lines(bmap: BoneMap) -> list[str]:
    """Human-readable lines for ``vhuman avatar inspect``: mapping and what is missing."""
    n = len([b for b in BODY_BONES if b in bmap.joints])
    lines = [f"body     {n}/{len(BODY_BONES)} body bones mapped (from {bmap.source})"]
    for b in HUMANOID_BONES:
        if b in bmap.joints:
            lines.append(f"  {b:<26} = {bmap.names[bmap.joints[b]]}")
    regions = bmap.regions()
    still = [r for r, ok in regions.items() if not ok]
    if still:
        lines.append(f"  regions that stay at rest: {', '.join(still)} (body layers ignored "
                     "there)")
    missing = bmap.missing()
    if missing and len(missing) < len(BODY_BONES):
        lines.extend(textwrap.wrap(", ".join(missing), width=100,
                                   initial_indent=f"  missing ({len(missing)}): ",
                                   subsequent_indent=" " * 6, break_on_hyphens=False))
    return lines
