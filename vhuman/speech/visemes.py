"""Phoneme → viseme → ARKit-52 mouth weights, with coarticulation.

Three phoneme alphabets reach this module (see :class:`vhuman.speech.base.Utterance`):

- espeak mnemonics for English (``p``, ``'aI``, ``tS``, ``3:``...),
- espeak mnemonics for Mandarin (``ts.h``, ``'iou``, ``y&``...), mapped onto pinyin
  initials and finals first, because the mouth shapes of Mandarin are described (and
  checked by native speakers) in pinyin terms; tones change pitch, not the mouth,
- IPA (Piper) and plain characters (character-level models), read symbol by symbol.

Coarticulation follows Cohen & Massaro's dominance model: every segment pulls the mouth
toward its target with a strength that is flat over the segment and decays outside it,
faster after (carry-over) than before (anticipation, ~50 ms). Lips that must close (b, p,
m) or bite (f, v) dominate strongly so they are reached even in 30 ms segments; h, k, g
dominate weakly and so take the shape of the vowel around them, as real mouths do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vhuman.core.arkit import ARKIT_52, INDEX, N_ARKIT

_LR = ("Left", "Right")


def _shape(**w: float) -> np.ndarray:
    """Build a float32[52] target; ``mouthSmile=0.3`` sets both sides."""
    out = np.zeros(N_ARKIT, np.float32)
    for key, val in w.items():
        names = [key] if key in INDEX else [key + s for s in _LR]
        for name in names:
            out[INDEX[name]] = val  # KeyError here is a typo in the table below
    return out


#: Viseme name → ARKit target. Neutral (all zero) is a closed, relaxed mouth.
VISEMES: dict[str, np.ndarray] = {
    "sil": _shape(),
    "gap": _shape(),  # a word boundary: barely pulls, so the mouth does not shut between words
    "PP": _shape(jawOpen=0.04, mouthClose=0.06, mouthPress=0.6, mouthRollLower=0.2,
                 mouthRollUpper=0.12),
    "FF": _shape(jawOpen=0.1, mouthClose=0.05, mouthRollLower=0.55, mouthUpperUp=0.25,
                 mouthPress=0.1),
    "TH": _shape(jawOpen=0.16, tongueOut=0.35, mouthStretch=0.1),
    "DD": _shape(jawOpen=0.2, mouthStretch=0.15, mouthUpperUp=0.1, mouthLowerDown=0.1),
    "nn": _shape(jawOpen=0.14, mouthStretch=0.1, mouthLowerDown=0.05),
    "kk": _shape(jawOpen=0.26, mouthStretch=0.1, mouthLowerDown=0.1),
    "CH": _shape(jawOpen=0.14, mouthFunnel=0.4, mouthPucker=0.2, mouthUpperUp=0.2,
                 mouthLowerDown=0.15),
    "SS": _shape(jawOpen=0.08, mouthStretch=0.35, mouthSmile=0.15, mouthUpperUp=0.1,
                 mouthLowerDown=0.15),
    "RR": _shape(jawOpen=0.14, mouthFunnel=0.3, mouthPucker=0.3),
    "aa": _shape(jawOpen=0.62, mouthLowerDown=0.3, mouthUpperUp=0.1, mouthStretch=0.08),
    "E": _shape(jawOpen=0.4, mouthStretch=0.28, mouthSmile=0.12, mouthLowerDown=0.2),
    "ah": _shape(jawOpen=0.34, mouthLowerDown=0.15),  # schwa / ʌ: open, neutral lips
    "ih": _shape(jawOpen=0.16, mouthStretch=0.45, mouthSmile=0.35, mouthUpperUp=0.1),
    "oh": _shape(jawOpen=0.45, mouthFunnel=0.55, mouthPucker=0.25),
    "ou": _shape(jawOpen=0.14, mouthPucker=0.75, mouthFunnel=0.35),
    "yu": _shape(jawOpen=0.1, mouthPucker=0.8, mouthFunnel=0.1),  # ü: rounded, narrow
}

#: How far each viseme's pull reaches beyond its segment, relative to the global
#: anticipation/carry-over times: lip closures are strong but local.
SPREAD: dict[str, float] = {"PP": 0.5, "FF": 0.5, "TH": 0.7, "sil": 1.5}

#: How strongly each viseme holds its target against its neighbours.
DOMINANCE: dict[str, float] = {
    "sil": 0.7, "gap": 0.1, "PP": 4.0, "FF": 3.0, "TH": 2.0, "DD": 0.8, "nn": 0.7, "kk": 0.35,
    "CH": 1.8, "SS": 1.4, "RR": 1.4, "aa": 1.0, "E": 1.0, "ah": 0.8, "ih": 1.0,
    "oh": 1.0, "ou": 1.2, "yu": 1.4,
}

# -- English, espeak mnemonics (stress marks stripped) --------------------------------
EN_ESPEAK: dict[str, tuple[str, ...]] = {
    "p": ("PP",), "b": ("PP",), "m": ("PP",), "m-": ("PP",),
    "f": ("FF",), "v": ("FF",), "T": ("TH",), "D": ("TH",),
    "t": ("DD",), "d": ("DD",), "t#": ("DD",), "n": ("nn",), "n-": ("nn",),
    "l": ("DD",), "l-": ("DD",), "s": ("SS",), "z": ("SS",),
    "S": ("CH",), "Z": ("CH",), "tS": ("CH",), "dZ": ("CH",),
    "k": ("kk",), "g": ("kk",), "N": ("kk",), "h": ("kk",), "x": ("kk",), "?": ("kk",),
    "r": ("RR",), "r-": ("RR",), "j": ("ih",), "w": ("ou",),
    "a": ("aa",), "a#": ("aa",), "A:": ("aa",), "A@": ("aa", "RR"), "A": ("aa",),
    "0": ("oh",), "O:": ("oh",), "O": ("oh",), "O@": ("oh", "RR"), "o@": ("oh", "RR"),
    "V": ("ah",), "@": ("ah",), "@2": ("ah",), "@5": ("ah",), "@L": ("ah", "DD"),
    "3": ("RR",), "3:": ("E", "RR"), "E": ("E",), "e@": ("E", "RR"), "eI": ("E", "ih"),
    "I": ("ih",), "I2": ("ih",), "I#": ("ih",), "i": ("ih",), "i:": ("ih",),
    "i@": ("ih", "ah"), "i@3": ("ih", "RR"), "U": ("ou",), "u:": ("ou",), "U@": ("ou", "RR"),
    "aI": ("aa", "ih"), "aU": ("aa", "ou"), "oU": ("oh", "ou"), "OI": ("oh", "ih"),
    "aI@": ("aa", "ih", "ah"), "aI3": ("aa", "ih", "RR"), "aU@": ("aa", "ou", "ah"),
}

# -- Mandarin: pinyin initials and finals ------------------------------------------------
PINYIN_INITIALS: dict[str, tuple[str, ...]] = {
    "b": ("PP",), "p": ("PP",), "m": ("PP",), "f": ("FF",),
    "d": ("DD",), "t": ("DD",), "n": ("nn",), "l": ("DD",),
    "g": ("kk",), "k": ("kk",), "h": ("kk",),
    # j q x: alveolo-palatal, lips spread toward the i/ü that always follows.
    "j": ("SS",), "q": ("SS",), "x": ("SS",),
    # zh ch sh r: retroflex, lips round a little.
    "zh": ("CH",), "ch": ("CH",), "sh": ("CH",), "r": ("RR",),
    "z": ("SS",), "c": ("SS",), "s": ("SS",),
    "y": ("ih",), "w": ("ou",),
}

PINYIN_FINALS: dict[str, tuple[str, ...]] = {
    "a": ("aa",), "o": ("oh",), "e": ("ah",), "ê": ("E",), "i": ("ih",), "u": ("ou",),
    "ü": ("yu",), "-i": ("SS",), "-ir": ("RR",), "er": ("ah", "RR"),
    "ai": ("aa", "ih"), "ei": ("E", "ih"), "ao": ("aa", "ou"), "ou": ("oh", "ou"),
    "an": ("aa", "nn"), "en": ("ah", "nn"), "ang": ("aa", "kk"), "eng": ("ah", "kk"),
    "ong": ("ou", "kk"),
    "ia": ("ih", "aa"), "ie": ("ih", "E"), "iao": ("ih", "aa", "ou"), "iou": ("ih", "oh", "ou"),
    "ian": ("ih", "E", "nn"), "in": ("ih", "nn"), "iang": ("ih", "aa", "kk"),
    "ing": ("ih", "kk"), "iong": ("yu", "ou", "kk"),
    "ua": ("ou", "aa"), "uo": ("ou", "oh"), "uai": ("ou", "aa", "ih"),
    "uei": ("ou", "E", "ih"), "uan": ("ou", "aa", "nn"), "uen": ("ou", "ah", "nn"),
    "uang": ("ou", "aa", "kk"), "ueng": ("ou", "ah", "kk"),
    "üe": ("yu", "E"), "üan": ("yu", "E", "nn"), "ün": ("yu", "nn"),
}

#: espeak-ng ``cmn`` phoneme mnemonics (stress marks stripped) → pinyin initial/final.
CMN_ESPEAK_TO_PINYIN: dict[str, str] = {
    "p": "b", "ph": "p", "m": "m", "f": "f", "t": "d", "th": "t", "n": "n", "l": "l",
    "k": "g", "kh": "k", "x": "h", "X": "h", "h": "h",
    "tS;": "j", "tS;h": "q", "S;": "x", "ts.": "zh", "ts.h": "ch", "s.": "sh", "z.": "r",
    "ts": "z", "tsh": "c", "s": "s", "j": "y", "w": "w", "N": "ng",
    "A": "a", "a": "a", "o": "o", "o-": "e", "@": "e", "7": "e", "E": "ê", "e": "ê",
    "i": "i", "u": "u", "y": "ü", "i.": "-ir", "i[": "-i", "@r": "er", "&r": "er", "Ar": "er",
    "ai": "ai", "aI": "ai", "ei": "ei", "eI": "ei", "Au": "ao", "au": "ao", "aU": "ao",
    "ou": "ou", "oU": "ou", "an": "an", "@n": "en", "aN": "ang", "AN": "ang", "ang": "ang",
    "@N": "eng", "eng": "eng", "oN": "ong", "uN": "ong", "ong": "ong",
    "iA": "ia", "ia": "ia", "iE": "ie", "ie": "ie", "iAu": "iao", "iau": "iao",
    "iou": "iou", "iEn": "ian", "iAn": "ian", "ian": "ian", "in": "in", "iAN": "iang",
    "iaN": "iang", "iang": "iang", "iN": "ing", "ing": "ing", "ioN": "iong", "iong": "iong",
    "uA": "ua", "ua": "ua", "uo": "uo", "uai": "uai", "uei": "uei", "ui": "uei",
    "uAn": "uan", "uan": "uan", "u@n": "uen", "u@": "uen", "un": "uen", "uAN": "uang",
    "uaN": "uang", "uang": "uang", "u@N": "ueng",
    "y&": "üe", "yE": "üe", "ye": "üe", "y&n": "üan", "yn": "ün", "yan": "üan",
}
_NG = {"ng": ("kk",)}

# -- IPA and plain characters, symbol by symbol ----------------------------------------
IPA_CHARS: dict[str, str] = {
    **dict.fromkeys("pbmɱ", "PP"), **dict.fromkeys("fv", "FF"), **dict.fromkeys("θð", "TH"),
    **dict.fromkeys("tdɾlɫɬ", "DD"), **dict.fromkeys("nɲɳ", "nn"),
    **dict.fromkeys("sz", "SS"), **dict.fromkeys("ʃʒ", "CH"), **dict.fromkeys("ɕʑ", "SS"),
    **dict.fromkeys("ʂʐ", "CH"), **dict.fromkeys("kgɡŋhxɣqʔχ", "kk"),
    **dict.fromkeys("ɹrʁɻ", "RR"), "j": "ih", "w": "ou", "ɥ": "yu",
    **dict.fromkeys("aɑæɐä", "aa"), **dict.fromkeys("eɛɜ", "E"), **dict.fromkeys("əʌɚɘ", "ah"),
    **dict.fromkeys("iɪɨ", "ih"), **dict.fromkeys("oɔɒɤ", "oh"), **dict.fromkeys("uʊɯ", "ou"),
    **dict.fromkeys("yʏøœ", "yu"),
}
#: Letters of plain text (character-level models), where spelling ≠ IPA.
LETTERS: dict[str, str] = {
    **IPA_CHARS, "c": "kk", "q": "kk", "x": "kk", "j": "CH", "y": "ih", "r": "RR",
}
_IGNORED = set("ˈˌ',:;.-#ː~^_|0123456789 ")


def _strip_stress(symbol: str) -> str:
    return symbol.lstrip("',ˈˌ%=")


def _by_chars(symbol: str, table: dict[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    for ch in symbol:
        if ch in _IGNORED:
            continue
        vis = table.get(ch) or table.get(ch.lower())
        if vis and (not out or out[-1] != vis):
            out.append(vis)
    return tuple(out)


def phoneme_visemes(symbol: str, lang: str = "en", alphabet: str = "espeak") -> tuple[str, ...]:
    """The viseme sequence for one phoneme (diphthongs and finals give several).

    Args:
        symbol: the phoneme as the engine reported it.
        lang: ``"cmn"`` for Mandarin, anything else for English rules.
        alphabet: ``"espeak"``, ``"ipa"`` or ``"chars"``.

    Returns:
        Viseme names from :data:`VISEMES`; ``("sil",)`` for pauses and unknown symbols,
        ``("gap",)`` for a word boundary (``_|``).
    """
    if symbol == "_|":  # espeak's (and our Piper mapping's) word boundary
        return ("gap",)
    if not symbol or symbol.startswith("_") or symbol.isspace():
        return ("sil",)
    if alphabet == "ipa":
        return _by_chars(symbol, IPA_CHARS) or ("sil",)
    if alphabet == "chars":
        return _by_chars(symbol, LETTERS) or ("sil",)
    bare = _strip_stress(symbol)
    if lang.startswith(("cmn", "zh")):
        py = CMN_ESPEAK_TO_PINYIN.get(bare)
        if py is not None:
            return pinyin_visemes(py)
        return _by_chars(bare, IPA_CHARS) or ("sil",)
    if bare in EN_ESPEAK:
        return EN_ESPEAK[bare]
    return _by_chars(bare, {**IPA_CHARS, "A": "aa", "E": "E", "I": "ih", "O": "oh",
                            "U": "ou", "V": "ah", "@": "ah", "3": "RR", "T": "TH",
                            "D": "TH", "S": "CH", "Z": "CH", "N": "kk"}) or ("sil",)


def pinyin_visemes(part: str) -> tuple[str, ...]:
    """Visemes for a pinyin initial (``b``, ``zh``) or final (``iou``, ``üan``)."""
    return PINYIN_INITIALS.get(part) or PINYIN_FINALS.get(part) or _NG.get(part) or ("sil",)


@dataclass(frozen=True, slots=True)
class VisemeTrack:
    """ARKit mouth weights sampled on a regular grid, ready to play against audio.

    Attributes:
        fps: grid rate (frames per second).
        weights: float32[T, 52], frame ``k`` at time ``k / fps`` seconds.
        visemes: the ``(viseme, start_s, end_s)`` timeline the weights were built from.
        duration_s: length of the audio the track belongs to.
    """

    fps: float
    weights: np.ndarray
    visemes: tuple[tuple[str, float, float], ...]
    duration_s: float

    def sample(self, t_s: float) -> np.ndarray:
        """Weights at ``t_s`` seconds from the start (linear between frames, rest outside)."""
        if t_s < 0 or t_s > self.duration_s or len(self.weights) == 0:
            return np.zeros(N_ARKIT, np.float32)
        x = t_s * self.fps
        i = int(x)
        if i >= len(self.weights) - 1:
            return self.weights[-1].copy()
        f = x - i
        return (self.weights[i] * (1 - f) + self.weights[i + 1] * f).astype(np.float32)

    def channel(self, name: str) -> np.ndarray:
        """One ARKit weight over time, float32[T]."""
        return self.weights[:, INDEX[name]]


def viseme_timeline(phonemes, langs=(), alphabet: str = "espeak"):
    """Expand ``(symbol, start_s, end_s)`` phonemes into ``(viseme, start_s, end_s)``.

    A phoneme with several visemes (a diphthong, a Mandarin final) is split in time; the
    first part gets a little more (the nucleus), later parts share the rest.
    """
    langs = tuple(langs) or ("en",) * len(phonemes)
    out: list[tuple[str, float, float]] = []
    for (sym, a, b), lang in zip(phonemes, langs, strict=True):
        seq = phoneme_visemes(sym, lang, alphabet)
        if b <= a:
            continue
        if len(seq) == 1:
            cuts = [a, b]
        else:
            first = 0.45 if len(seq) == 2 else 0.4
            rest = (1 - first) / (len(seq) - 1)
            fr = [0.0, first] + [first + rest * k for k in range(1, len(seq))]
            cuts = [a + (b - a) * f for f in fr]
        for k, vis in enumerate(seq):
            out.append((vis, cuts[k], cuts[k + 1]))
    return tuple(out)


def build_track(utterance=None, *, phonemes=None, langs=(), alphabet: str = "espeak",
                duration_s: float | None = None, fps: float = 100.0,
                anticipation_s: float = 0.06, carryover_s: float = 0.04,
                gain: float = 1.0) -> VisemeTrack:
    """Build the coarticulated mouth track for an utterance (or raw phonemes).

    Args:
        utterance: a :class:`~vhuman.speech.base.Utterance`; or give the next four.
        phonemes: ``(symbol, start_s, end_s)`` when there is no utterance.
        langs: one language tag per phoneme (``"cmn"`` or English).
        alphabet: ``"espeak"``, ``"ipa"`` or ``"chars"``.
        duration_s: length of the audio (default: end of the last phoneme).
        fps: grid rate of the returned track.
        anticipation_s: how far ahead a segment starts pulling the mouth (decay constant).
        carryover_s: how long a segment keeps pulling after it ends.
        gain: scales every weight (a calmer or livelier speaker).
    """
    if utterance is not None:
        phonemes, langs, alphabet = utterance.phonemes, utterance.langs, utterance.alphabet
        duration_s = utterance.duration_s
    phonemes = tuple(phonemes or ())
    if duration_s is None:
        duration_s = phonemes[-1][2] if phonemes else 0.0
    timeline = viseme_timeline(phonemes, langs, alphabet)
    n = int(np.ceil(duration_s * fps)) + 1
    t = np.arange(n, dtype=np.float64) / fps
    if not timeline:
        return VisemeTrack(fps, np.zeros((n, N_ARKIT), np.float32), (), duration_s)
    names = [v for v, _, _ in timeline]
    a = np.array([s for _, s, _ in timeline])[None, :]
    b = np.array([e for _, _, e in timeline])[None, :]
    strength = np.array([DOMINANCE[v] for v in names])[None, :]
    spread = np.array([SPREAD.get(v, 1.0) for v in names])[None, :]
    targets = np.stack([VISEMES[v] for v in names]).astype(np.float64)
    tt = t[:, None]
    # Gaussian fall-off (Cohen-Massaro with c = 2): a neighbour pulls hard when close
    # and hardly at all a segment away, so long vowels still reach their targets.
    before = np.exp(-np.square(np.clip(a - tt, 0, None) / (anticipation_s * spread)))
    after = np.exp(-np.square(np.clip(tt - b, 0, None) / (carryover_s * spread)))
    dom = strength * before * after  # 1 inside the segment, decaying either side
    # Rest pose outside the utterance: a faint "sil" everywhere keeps sums positive.
    dom_total = dom.sum(axis=1, keepdims=True) + 1e-3
    weights = (dom @ targets) / dom_total
    weights = np.clip(weights * gain, 0.0, 1.0).astype(np.float32)
    return VisemeTrack(fps, weights, timeline, duration_s)


def keyframes(track: VisemeTrack, fps: float = 30.0, threshold: float = 0.01) -> list[dict]:
    """Per-frame ARKit weights at ``fps`` as JSON-ready dicts (weights under threshold dropped)."""
    frames: list[dict] = []
    n = int(np.floor(track.duration_s * fps)) + 1
    mouth = [i for i, name in enumerate(ARKIT_52)
             if name.startswith(("jaw", "mouth", "tongue"))]
    for k in range(n):
        w = track.sample(k / fps)
        frames.append({"t": round(k / fps, 4), "weights": {
            ARKIT_52[i]: round(float(w[i]), 4) for i in mouth if w[i] >= threshold}})
    return frames
