"""Which imported morph targets and bones drive which ARKit weights and skeleton roles.

Three kinds of source name reach the engine's 52 ARKit weights:

1. **ARKit names**, however spelled (``blendShape1.jawOpen``, ``eye_blink_left``,
   ``EyeBlink_L``, ``Eye_Blink_L``): one target, one ARKit weight, coefficient 1.
2. **Aliases** other tools use for the same motion (Ready Player Me ``mouthSmile``,
   Mixamo/Fuse ``Blink_Left``, Character Creator ``Brow_Raise_Inner_L``). A two-sided
   target mapped onto a left and a right ARKit weight gets 0.5 on each, so driving both
   sides fully gives the whole shape once.
3. **Expressions and visemes** (VRM presets ``aa``/``blink``/``happy``, Oculus
   ``viseme_aa``, VRChat ``vrc.v_aa``): the engine cannot set these directly, so
   :data:`EXPRESSION_RETARGET` writes each as a linear function of ARKit weights; a target
   bound to expression *E* with weight *w* drives ARKit weight *a* with ``w × c(E, a)``.

When several kinds reach the same ARKit weight on one avatar, only the best kind is kept
(override < name < alias < expression), so a perfect-sync VRM's own ``jawOpen`` wins over
the ``aa`` retarget and nothing moves twice.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vhuman.avatar.model import ROLES
from vhuman.core.arkit import ARKIT_52, canonical_name
from vhuman.core.errors import ConfigError

TIER_OVERRIDE, TIER_NAME, TIER_ALIAS, TIER_EXPRESSION = 0, 1, 2, 3

_SIDES = {"l": "left", "left": "left", "r": "right", "right": "right"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEP = re.compile(r"[\s_\-.:|]+")


def _tokens(name: str) -> list[str]:
    return [t for t in _SEP.split(_CAMEL.sub("_", name).lower()) if t]


def target_key(name: str) -> str:
    """Normalize a morph-target name for matching.

    Drops namespace prefixes, case and separators, and moves a side marker (``L``,
    ``_left``, ``.R``) to the end as ``left``/``right``.

    ``blendShape1.eyeBlink_L``, ``Eye_Blink_L`` and ``eyeBlinkLeft`` all give
    ``eyeblinkleft``.
    """
    parts = [p for p in re.split(r"[.:|]", name.strip()) if p]
    if not parts:
        return ""
    if parts[0].lower() == "vrc" and len(parts) > 1:
        parts = parts[1:]  # VRChat visemes: "vrc.v_aa" is the name itself, not a prefix
        last = "_".join(parts)
    else:
        last = parts[-1]
        if last.lower() in _SIDES and len(parts) > 1:
            last = parts[-2] + "_" + last
    toks = _tokens(last)
    sides = [t for t in toks if t in _SIDES]
    rest = [t for t in toks if t not in _SIDES]
    if not rest:
        return "".join(toks)
    side = _SIDES[sides[-1]] if sides else ""
    return "".join(rest) + side


_ARKIT_KEYS: dict[str, str] = {target_key(n): n for n in ARKIT_52}


def _both(base: str, coeff: float = 0.5) -> dict[str, float]:
    return {f"{base}Left": coeff, f"{base}Right": coeff}


#: Other spellings for ARKit motions (keys are :func:`target_key` forms of the names).
#: Values: ARKit name → coefficient.
TARGET_ALIASES: dict[str, dict[str, float]] = {
    # Ready Player Me, plus generic two-sided shapes
    "mouthopen": {"jawOpen": 1.0},
    "mouthsmile": _both("mouthSmile"),
    "mouthfrown": _both("mouthFrown"),
    "mouthstretch": _both("mouthStretch"),
    "mouthdimple": _both("mouthDimple"),
    "mouthpress": _both("mouthPress"),
    "mouthlowerdown": _both("mouthLowerDown"),
    "mouthupperup": _both("mouthUpperUp"),
    "browdown": _both("browDown"),
    "browouterup": _both("browOuterUp"),
    "eyeblink": _both("eyeBlink"), "eyesclosed": _both("eyeBlink"), "blink": _both("eyeBlink"),
    "eyewide": _both("eyeWide"), "eyesquint": _both("eyeSquint"),
    "cheeksquint": _both("cheekSquint"), "nosesneer": _both("noseSneer"),
    "eyeslookup": _both("eyeLookUp"), "eyeslookdown": _both("eyeLookDown"),
    "tongueout": {"tongueOut": 1.0},
    # Mixamo / Adobe Fuse
    "blinkleft": {"eyeBlinkLeft": 1.0}, "blinkright": {"eyeBlinkRight": 1.0},
    "smileleft": {"mouthSmileLeft": 1.0}, "smileright": {"mouthSmileRight": 1.0},
    "frownleft": {"mouthFrownLeft": 1.0}, "frownright": {"mouthFrownRight": 1.0},
    "browsdownleft": {"browDownLeft": 1.0}, "browsdownright": {"browDownRight": 1.0},
    "browsupleft": {"browOuterUpLeft": 1.0}, "browsupright": {"browOuterUpRight": 1.0},
    "squintleft": {"eyeSquintLeft": 1.0}, "squintright": {"eyeSquintRight": 1.0},
    "sneerleft": {"noseSneerLeft": 1.0}, "sneerright": {"noseSneerRight": 1.0},
    "cheekpuffleft": {"cheekPuff": 1.0}, "cheekpuffright": {"cheekPuff": 1.0},
    "jawfwd": {"jawForward": 1.0},
    # Reallusion Character Creator 4 (one ARKit weight may drive both per-side targets:
    # they move disjoint vertices, so each keeps coefficient 1)
    "browraiseinnerleft": {"browInnerUp": 1.0}, "browraiseinnerright": {"browInnerUp": 1.0},
    "browraiseouterleft": {"browOuterUpLeft": 1.0},
    "browraiseouterright": {"browOuterUpRight": 1.0},
    "browdropleft": {"browDownLeft": 1.0}, "browdropright": {"browDownRight": 1.0},
    "cheekraiseleft": {"cheekSquintLeft": 1.0}, "cheekraiseright": {"cheekSquintRight": 1.0},
    "mouthrollinupper": {"mouthRollUpper": 1.0}, "mouthrollinlower": {"mouthRollLower": 1.0},
    "jawleft": {"jawLeft": 1.0}, "jawright": {"jawRight": 1.0},
}

#: The linear ARKit → expression retarget: expression → {ARKit name: coefficient}.
#: Expression names are VRM 1.0 presets; VRM 0.x presets and visemes are renamed to these
#: by :data:`EXPRESSION_NAMES` first.
EXPRESSION_RETARGET: dict[str, dict[str, float]] = {
    "aa": {"jawOpen": 1.0},
    "ih": {"mouthStretchLeft": 0.5, "mouthStretchRight": 0.5},
    "ee": {"mouthLowerDownLeft": 0.5, "mouthLowerDownRight": 0.5},
    "ou": {"mouthPucker": 1.0},
    "oh": {"mouthFunnel": 1.0},
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    # Used only when the model has no per-eye blink (see vrm.py): the average of both eyes.
    "blink": {"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5},
    "happy": {"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5},
    "angry": {"browDownLeft": 0.5, "browDownRight": 0.5},
    "sad": {"mouthFrownLeft": 0.4, "mouthFrownRight": 0.4, "browInnerUp": 0.2},
    "surprised": {"eyeWideLeft": 0.4, "eyeWideRight": 0.4, "browInnerUp": 0.2},
    # Character's own left: ARKit's left eye looking out and right eye looking in.
    "lookUp": {"eyeLookUpLeft": 0.5, "eyeLookUpRight": 0.5},
    "lookDown": {"eyeLookDownLeft": 0.5, "eyeLookDownRight": 0.5},
    "lookLeft": {"eyeLookOutLeft": 0.5, "eyeLookInRight": 0.5},
    "lookRight": {"eyeLookInLeft": 0.5, "eyeLookOutRight": 0.5},
    # Oculus/VRChat consonant visemes with an obvious ARKit counterpart.
    "pp": {"mouthClose": 0.5, "mouthPressLeft": 0.25, "mouthPressRight": 0.25},
    "ff": {"mouthRollLower": 1.0},
    "th": {"tongueOut": 0.5},
}

#: Other names for the expressions above (keys are :func:`target_key` forms).
EXPRESSION_NAMES: dict[str, str] = {
    # VRM 1.0 presets (identity) and VRM 0.x presets
    **{target_key(k): k for k in EXPRESSION_RETARGET},
    "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh",
    "joy": "happy", "sorrow": "sad", "fun": "relaxed",
    "blinkl": "blinkLeft", "blinkr": "blinkRight",
    # Oculus visemes (Ready Player Me) and VRChat visemes
    "visemeaa": "aa", "visemei": "ih", "visemee": "ee", "visemeo": "oh", "visemeu": "ou",
    "visemepp": "pp", "visemeff": "ff", "visemeth": "th",
    "vaa": "aa", "vih": "ih", "ve": "ee", "voh": "oh", "vou": "ou",
    "vpp": "pp", "vff": "ff", "vth": "th",
}


@dataclass(frozen=True, slots=True)
class TargetMap:
    """One source morph target driving one ARKit weight.

    Attributes:
        arkit: ARKit-52 name.
        coeff: the target's delta is scaled by this per unit of the ARKit weight.
        tier: TIER_* constant; lower wins when kinds compete for one ARKit weight.
        via: how the mapping was found, for ``inspect``.
    """

    arkit: str
    coeff: float
    tier: int
    via: str


@dataclass(frozen=True, slots=True)
class Overrides:
    """A per-avatar override file.

    Attributes:
        targets: source target name → ((ARKit name, coefficient), ...); an empty tuple
            means "leave this target unmapped".
        bones: role → bone (node) name.
        facing: which way the model faces in its file ("+Z", "-Z", "+X", "-X"); None
            detects it (see :mod:`vhuman.avatar.facing`).
        frame_center: the point the head-and-shoulders view looks at (avatar space,
            after the facing fix), or None to compute it.
        frame_height: metres of avatar that view shows, or None to compute it.
        source: the file, for messages.
    """

    targets: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    bones: dict[str, str] = field(default_factory=dict)
    facing: str | None = None
    frame_center: tuple[float, float, float] | None = None
    frame_height: float | None = None
    source: str = ""


def expression_name(name: str) -> str | None:
    """The VRM 1.0 preset an expression/viseme name stands for, or ``None``."""
    return EXPRESSION_NAMES.get(target_key(name))


def map_target(name: str, overrides: Overrides | None = None) -> list[TargetMap]:
    """ARKit weights a morph target called ``name`` should follow (may be empty)."""
    if overrides is not None and name in overrides.targets:
        return [TargetMap(a, c, TIER_OVERRIDE, "override") for a, c in overrides.targets[name]]
    key = target_key(name)
    if key in _ARKIT_KEYS:
        return [TargetMap(_ARKIT_KEYS[key], 1.0, TIER_NAME, "name")]
    if key in TARGET_ALIASES:
        return [TargetMap(a, c, TIER_ALIAS, "alias") for a, c in TARGET_ALIASES[key].items()]
    expr = EXPRESSION_NAMES.get(key)
    if expr is not None:
        return expression_maps(expr, 1.0)
    canon = canonical_name(name)
    if canon is not None:
        return [TargetMap(canon, 1.0, TIER_NAME, "name")]
    return []


def expression_maps(expr: str, weight: float) -> list[TargetMap]:
    """Retarget entries for a target bound to expression ``expr`` with ``weight``."""
    return [TargetMap(a, c * weight, TIER_EXPRESSION, f"expression {expr}")
            for a, c in EXPRESSION_RETARGET.get(expr, {}).items()]


# -- bones ---------------------------------------------------------------------------------

#: Name parts that are rig namespaces, not anatomy (mixamorig:, J_Bip_C_, Bip01, CC_Base_).
_BONE_NOISE = {"j", "bip", "c", "adj", "sec", "bip01", "bip001", "cc", "base", "def", "org",
               "armature", "bn", "b", "jnt", "joint", "bone"}
_BONE_ROLES: dict[str, str] = {
    "hips": "root", "hip": "root", "pelvis": "root", "root": "root",
    "spine": "spine", "spine0": "spine", "spine00": "spine",
    "spine1": "chest", "spine01": "chest", "chest": "chest",
    "spine2": "upperChest", "spine02": "upperChest", "upperchest": "upperChest",
    "neck": "neck", "neck1": "neck", "neck01": "neck", "necktwist01": "neck",
    "head": "head",
    "lefteye": "leftEye", "leftfaceeye": "leftEye", "lefteyeball": "leftEye",
    "righteye": "rightEye", "rightfaceeye": "rightEye", "righteyeball": "rightEye",
    "leftshoulder": "leftShoulder", "leftclavicle": "leftShoulder",
    "leftcollar": "leftShoulder",
    "rightshoulder": "rightShoulder", "rightclavicle": "rightShoulder",
    "rightcollar": "rightShoulder",
}


def bone_key(name: str) -> str:
    """Normalize a bone name: drop rig prefixes, case, separators; side goes first."""
    toks = []
    for t in _tokens(name):
        if t.startswith("mixamorig") or t in _BONE_NOISE:
            continue
        toks.append(t)
    sides = [t for t in toks if t in _SIDES]
    rest = [t for t in toks if t not in _SIDES]
    side = _SIDES[sides[0]] if sides and rest else ""
    return side + "".join(rest)


def bone_role(name: str) -> str | None:
    """The skeleton role (one of :data:`~vhuman.avatar.model.ROLES`) a bone name suggests."""
    return _BONE_ROLES.get(bone_key(name))


# -- override files ------------------------------------------------------------------------

def load_overrides(path: Path | str) -> Overrides:
    """Read a per-avatar override file (JSON, or YAML for any other suffix).

    Format::

        {"targets": {"MyBrowUp_L": "browOuterUpLeft",
                     "Blink": ["eyeBlinkLeft", "eyeBlinkRight"],
                     "Smirk": {"mouthSmileLeft": 0.7},
                     "Junk": null},
         "bones": {"head": "Bip01_Head"}}

    A list splits the target evenly (both blink weights at 1 close the eyes once);
    a mapping gives explicit coefficients; ``null`` keeps the target unmapped.

    Raises:
        ConfigError: unreadable file, bad syntax, unknown key, unknown ARKit name or role;
            the message names the file and the key.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_OVERRIDE_BYTES:
            raise ConfigError(f"{path}: override file is larger than "
                              f"{MAX_OVERRIDE_BYTES >> 10} KiB")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read override file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: override file is not UTF-8 text") from None
    data = _parse(path, text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: override file must be a mapping with 'targets' and/or "
                          "'bones'")
    unknown = set(data) - set(_OVERRIDE_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {min(map(str, unknown))!r}; "
                          f"allowed: {', '.join(repr(k) for k in _OVERRIDE_KEYS)}")
    targets_raw = data.get("targets") or {}
    bones_raw = data.get("bones") or {}
    if not isinstance(targets_raw, dict):
        raise ConfigError(f"{path}: 'targets' must be a mapping of target name → ARKit name(s)")
    if not isinstance(bones_raw, dict):
        raise ConfigError(f"{path}: 'bones' must be a mapping of role → bone name")
    targets = {str(k): _override_target(path, str(k), v) for k, v in targets_raw.items()}
    bones: dict[str, str] = {}
    for role, bone in bones_raw.items():
        if role not in ROLES:
            raise ConfigError(f"{path}: bones.{role}: unknown role; roles are "
                              f"{', '.join(ROLES)}")
        if not isinstance(bone, str) or not bone:
            raise ConfigError(f"{path}: bones.{role}: must be a bone name (string)")
        bones[role] = bone
    facing = data.get("facing")
    if facing is not None:
        facing = str(facing).strip().upper()
        if facing in ("Z", "X"):
            facing = "+" + facing
        if facing == "AUTO":
            facing = None
        elif facing not in ("+Z", "-Z", "+X", "-X"):
            raise ConfigError(f"{path}: facing: {data['facing']!r} is not one of +Z, -Z, +X, "
                              "-X, auto (the way the model faces in its file)")
    center, height = _framing(path, data.get("framing"))
    return Overrides(targets=targets, bones=bones, facing=facing, frame_center=center,
                     frame_height=height, source=str(path))


_OVERRIDE_KEYS = ("targets", "bones", "facing", "framing")
#: Override files are a few lines; anything this large is not one.
MAX_OVERRIDE_BYTES = 256 << 10


def _framing(path: Path, value: Any) -> tuple[tuple[float, float, float] | None, float | None]:
    """``framing: {center: [x, y, z], height: metres}`` (either key may be left out)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: framing must be a mapping with center and/or height")
    extra = set(value) - {"center", "height"}
    if extra:
        raise ConfigError(f"{path}: framing.{min(map(str, extra))}: unknown key; "
                          "allowed: center, height")
    center = height = None
    if value.get("center") is not None:
        c = value["center"]
        if not (isinstance(c, list) and len(c) == 3
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) and abs(v) < 1e4 for v in c)):
            raise ConfigError(f"{path}: framing.center must be three numbers [x, y, z] in "
                              "metres (avatar space, +Y up, facing +Z)")
        center = (float(c[0]), float(c[1]), float(c[2]))
    if value.get("height") is not None:
        h = value["height"]
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0.02 <= h <= 100:
            raise ConfigError(f"{path}: framing.height must be metres of avatar in view, "
                              "0.02..100")
        height = float(h)
    return center, height


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {exc.lineno} column {exc.colno}: bad JSON: "
                              f"{exc.msg}") from None
    import yaml

    class NoAliases(yaml.SafeLoader):
        """Aliases can expand a small file into gigabytes; overrides never need them."""

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("aliases (*name) are not allowed in override files")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=NoAliases)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: {where}bad YAML: {problem}") from None


def _arkit(path: Path, key: str, name: Any) -> str:
    if isinstance(name, str):
        if name in ARKIT_52:
            return name
        canon = canonical_name(name)
        if canon is not None:
            return canon
    raise ConfigError(f"{path}: targets.{key}: {name!r} is not an ARKit-52 name "
                      "(e.g. 'jawOpen', 'eyeBlinkLeft')")


def _override_target(path: Path, key: str, value: Any) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return ((_arkit(path, key, value), 1.0),)
    if isinstance(value, list):
        if not value:
            return ()
        share = 1.0 / len(value)
        return tuple((_arkit(path, key, v), share) for v in value)
    if isinstance(value, dict):
        out = []
        for name, coeff in value.items():
            if isinstance(coeff, bool) or not isinstance(coeff, (int, float)):
                raise ConfigError(f"{path}: targets.{key}.{name}: coefficient must be a "
                                  "number")
            out.append((_arkit(path, f"{key}.{name}", name), float(coeff)))
        return tuple(out)
    raise ConfigError(f"{path}: targets.{key}: expected an ARKit name, a list of names, a "
                      "mapping name → coefficient, or null")
