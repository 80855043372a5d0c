"""The TTS contract: one :class:`Utterance` per synthesized sentence, engines chosen by name.

Every engine turns ``(text, voice)`` into PCM plus phoneme and word times, so the lip-sync
track can be built from the same timeline that plays the audio.
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass, field

import numpy as np

from vhuman.core.errors import ConfigError

#: Phoneme alphabets an :class:`Utterance` may use (see :mod:`vhuman.speech.visemes`).
ALPHABETS = ("espeak", "ipa", "chars")


@dataclass(frozen=True, slots=True)
class Utterance:
    """Audio for one piece of text with its phoneme and word timeline.

    Attributes:
        pcm: int16 mono samples.
        rate: sample rate in Hz.
        phonemes: ``(symbol, start_s, end_s)`` in order; times relative to the first sample.
        words: ``(word, start_s, end_s)`` in order.
        text: the text as the engine read it (after normalisation).
        voice: the voice name that was asked for.
        langs: one language tag per phoneme (``"en"``, ``"cmn"``, ...); a mixed line switches
            voice per run, and the viseme tables differ per language.
        alphabet: how to read the symbols: ``"espeak"`` mnemonics, ``"ipa"`` or ``"chars"``
            (the engine only knows which text characters it spoke when).
    """

    pcm: np.ndarray
    rate: int
    phonemes: tuple[tuple[str, float, float], ...] = ()
    words: tuple[tuple[str, float, float], ...] = ()
    text: str = ""
    voice: str = ""
    langs: tuple[str, ...] = ()
    alphabet: str = "espeak"

    def __post_init__(self) -> None:
        pcm = np.asarray(self.pcm)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"pcm must be a 1-D int16 array, got {pcm.dtype} {pcm.shape}")
        if self.rate <= 0:
            raise ValueError(f"rate must be positive, got {self.rate}")
        if self.alphabet not in ALPHABETS:
            raise ValueError(f"alphabet must be one of {ALPHABETS}, got {self.alphabet!r}")
        object.__setattr__(self, "phonemes", tuple(
            (str(s), float(a), float(b)) for s, a, b in self.phonemes))
        object.__setattr__(self, "words", tuple(
            (str(w), float(a), float(b)) for w, a, b in self.words))
        langs = tuple(self.langs) or ("",) * len(self.phonemes)
        if len(langs) != len(self.phonemes):
            raise ValueError("langs must have one entry per phoneme")
        object.__setattr__(self, "langs", langs)

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.pcm) / self.rate


def concat_utterances(parts: list[Utterance], *, text: str, voice: str) -> Utterance:
    """Join utterances end to end (same rate), offsetting their timelines."""
    if not parts:
        raise ValueError("nothing to join")
    rate = parts[0].rate
    pcm: list[np.ndarray] = []
    phonemes: list[tuple[str, float, float]] = []
    words: list[tuple[str, float, float]] = []
    langs: list[str] = []
    offset = 0.0
    alphabet = parts[0].alphabet
    for part in parts:
        if part.rate != rate:
            raise ValueError(f"cannot join {part.rate} Hz audio to {rate} Hz audio")
        if part.alphabet != alphabet:
            raise ValueError("cannot join utterances with different phoneme alphabets")
        pcm.append(part.pcm)
        phonemes.extend((s, a + offset, b + offset) for s, a, b in part.phonemes)
        words.extend((w, a + offset, b + offset) for w, a, b in part.words)
        langs.extend(part.langs)
        offset += part.duration_s
    return Utterance(np.concatenate(pcm), rate, tuple(phonemes), tuple(words), text, voice,
                     tuple(langs), alphabet)


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """One installed voice.

    Attributes:
        name: what to pass as ``voice``.
        language: BCP-47-ish language tag (``"en-us"``, ``"cmn"``).
        engine: the engine that speaks it.
        description: free text (file path, speaker, ...).
    """

    name: str
    language: str
    engine: str
    description: str = ""


class TTSEngine(abc.ABC):
    """A speech synthesizer. Implementations must be safe to call from a worker thread."""

    #: Registry name (``"espeak"``, ``"piper"``, ``"coqui"``).
    name: str = ""
    #: Voice used when none is given.
    default_voice: str = ""

    @abc.abstractmethod
    def synthesize(self, text: str, voice: str | None = None) -> Utterance:
        """Speak ``text`` (one sentence or a short line) with ``voice``.

        Raises:
            ConfigError: the voice is not installed (the message lists installed voices).
        """

    @abc.abstractmethod
    def list_voices(self) -> list[VoiceInfo]:
        """Voices this engine can speak right now."""

    def language_of(self, voice: str) -> str:
        """The language tag of ``voice`` (used to pick text normalisation rules)."""
        for info in self.list_voices():
            if info.name == voice:
                return info.language
        return voice

    def unknown_voice(self, voice: str) -> ConfigError:
        """The error for a voice that is not installed, listing the ones that are."""
        names = sorted({v.name for v in self.list_voices()})
        shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
        return ConfigError(
            f"{self.name}: unknown voice {voice!r}; installed voices: {shown or 'none'}. "
            f"List them with `vhuman say --list-voices --engine {self.name}`.")


@dataclass(slots=True)
class _Entry:
    module: str
    attr: str
    instance: TTSEngine | None = field(default=None)


_ENGINES: dict[str, _Entry] = {
    "espeak": _Entry("vhuman.speech.espeak", "EspeakEngine"),
    "piper": _Entry("vhuman.speech.piper", "PiperEngine"),
    "coqui": _Entry("vhuman.speech.coqui", "CoquiEngine"),
}


def engine_names() -> list[str]:
    """Names :func:`get_engine` accepts."""
    return sorted(_ENGINES)


def register_engine(name: str, engine: TTSEngine) -> None:
    """Make ``engine`` available under ``name`` (tests and plugins)."""
    _ENGINES[name] = _Entry(type(engine).__module__, type(engine).__name__, engine)


def get_engine(name: str) -> TTSEngine:
    """The process-wide engine called ``name`` (created on first use).

    Raises:
        ConfigError: no engine has that name.
        MissingDependencyError: the engine's optional extra is not installed.
    """
    try:
        entry = _ENGINES[name]
    except KeyError:
        raise ConfigError(
            f"unknown TTS engine {name!r}; available: {', '.join(engine_names())}") from None
    if entry.instance is None:
        cls = getattr(importlib.import_module(entry.module), entry.attr)
        entry.instance = cls()
    return entry.instance
