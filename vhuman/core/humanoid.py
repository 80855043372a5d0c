"""The humanoid body vocabulary: VRM 1.0 bone names, regions, and the rotation convention.

Every body layer (idle, gestures, webcam body capture, plugins) speaks in these names, and
every avatar maps its own skeleton (VRM 0.x/1.0 humanoid, Mixamo, Ready Player Me, the
MakeHuman rig) onto them.

Convention (VRM 1.0 "normalized" humanoid): a bone's rotation is a unit quaternion
(w, x, y, z) **relative to the T-pose**, expressed in axes parallel to the avatar's root:
+X is the avatar's left, +Y up, +Z forward (toward the camera). Rotations compose down the
chain: ``world(bone) = world(parent) * local(bone)``. Identity everywhere is the T-pose;
that is never what goes on air, because a bone that no layer drives is left at the avatar's
own rest pose (``AvatarState.bone_weight`` is 0 there).

The head and neck are *not* body bones here: ``Pose.head`` / ``AvatarState.head`` stays the
one owner of head rotation (face capture and idle drive it), so no two fields disagree.
"""

from __future__ import annotations

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Little")
_FINGER_JOINTS = {
    "Thumb": ("Metacarpal", "Proximal", "Distal"),
    "Index": ("Proximal", "Intermediate", "Distal"),
    "Middle": ("Proximal", "Intermediate", "Distal"),
    "Ring": ("Proximal", "Intermediate", "Distal"),
    "Little": ("Proximal", "Intermediate", "Distal"),
}


def _arm(side: str) -> tuple[str, ...]:
    return (f"{side}Shoulder", f"{side}UpperArm", f"{side}LowerArm", f"{side}Hand")


def _hand(side: str) -> tuple[str, ...]:
    return tuple(f"{side}{f}{j}" for f in _FINGERS for j in _FINGER_JOINTS[f])


TORSO_BONES: tuple[str, ...] = ("hips", "spine", "chest", "upperChest")
LEFT_ARM_BONES = _arm("left")
RIGHT_ARM_BONES = _arm("right")
LEFT_HAND_BONES = _hand("left")
RIGHT_HAND_BONES = _hand("right")

#: The bones a body layer drives, in this fixed order (index = row in ``Pose.bones``).
BODY_BONES: tuple[str, ...] = (TORSO_BONES + LEFT_ARM_BONES + RIGHT_ARM_BONES
                               + LEFT_HAND_BONES + RIGHT_HAND_BONES)
N_BODY = len(BODY_BONES)
BODY_INDEX: dict[str, int] = {name: i for i, name in enumerate(BODY_BONES)}

#: The whole VRM 1.0 humanoid set an avatar may map (head and neck included, legs too),
#: for ``vhuman avatar inspect``; only :data:`BODY_BONES` are driven as bones.
HUMANOID_BONES: tuple[str, ...] = (
    TORSO_BONES + ("neck", "head", "leftEye", "rightEye", "jaw")
    + LEFT_ARM_BONES + RIGHT_ARM_BONES + LEFT_HAND_BONES + RIGHT_HAND_BONES
    + ("leftUpperLeg", "leftLowerLeg", "leftFoot", "leftToes",
       "rightUpperLeg", "rightLowerLeg", "rightFoot", "rightToes"))

#: Parent of each body bone (``None`` for the root); head/neck hang off ``upperChest``.
PARENT: dict[str, str | None] = {"hips": None, "spine": "hips", "chest": "spine",
                                 "upperChest": "chest"}
for _side in ("left", "right"):
    PARENT[f"{_side}Shoulder"] = "upperChest"
    PARENT[f"{_side}UpperArm"] = f"{_side}Shoulder"
    PARENT[f"{_side}LowerArm"] = f"{_side}UpperArm"
    PARENT[f"{_side}Hand"] = f"{_side}LowerArm"
    for _f in _FINGERS:
        _parent = f"{_side}Hand"
        for _j in _FINGER_JOINTS[_f]:
            PARENT[f"{_side}{_f}{_j}"] = _parent
            _parent = f"{_side}{_f}{_j}"

#: Regions that different layers may drive at once (mocap face + scripted right arm + idle
#: torso). ``face`` and ``head`` are the ARKit weights and the head rotation.
BODY_REGIONS: dict[str, tuple[str, ...]] = {
    "torso": TORSO_BONES,
    "left_arm": LEFT_ARM_BONES,
    "right_arm": RIGHT_ARM_BONES,
    "left_hand": LEFT_HAND_BONES,
    "right_hand": RIGHT_HAND_BONES,
}


def region_mask(*regions: str, value: float = 1.0) -> list[float]:
    """A per-bone mask (list of N_BODY floats) that is ``value`` on the named regions."""
    unknown = [r for r in regions if r not in BODY_REGIONS]
    if unknown:
        raise KeyError(f"unknown body region(s) {unknown}; known: {sorted(BODY_REGIONS)}")
    mask = [0.0] * N_BODY
    for region in regions:
        for bone in BODY_REGIONS[region]:
            mask[BODY_INDEX[bone]] = value
    return mask
