"""The default TTS engine: espeak-ng 1.52 from the ``espeakng-loader`` wheel, through ctypes.

Why this way: the wheel ships a current libespeak-ng and its data (Debian's 1.51 reads
Mandarin tone digits aloud in English, so it is never used). We run espeak in synchronous
mode: ``espeak_Synth`` returns after calling our callback with every block of samples and
its events, and phoneme events carry the sample index they start at, so timings are exact.

espeak keeps global state and is not re-entrant: one module-level lock serialises every
call, whatever thread the caller is on.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.speech.base import TTSEngine, Utterance, VoiceInfo, concat_utterances
from vhuman.speech.normalize import is_mandarin, normalize, script_runs

# speak_lib.h constants (espeak-ng 1.52).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1

#: Language tags the engine falls back to for runs in the other script of a mixed line.
MANDARIN_VOICE = "cmn"
ENGLISH_VOICE = "en-us"


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p),
                ("identifier", ctypes.c_char_p), ("gender", ctypes.c_ubyte),
                ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
                ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))

#: Serialises every espeak call in the process (the C library has one global state).
ESPEAK_LOCK = threading.RLock()


@dataclass(slots=True)
class _Run:
    """What the callback collects during one ``espeak_Synth`` call."""

    chunks: list[np.ndarray]
    phonemes: list[tuple[str, int]]  # (mnemonic, start sample)
    words: list[tuple[int, int, int]]  # (text position 1-based, length, start sample)


class _Library:
    """The loaded libespeak-ng, initialised once per process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise MissingDependencyError(
                "espeakng-loader (espeak-ng 1.52)", "pip install 'espeakng-loader==0.2.4'"
            ) from exc
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                          ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_Callback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        data = espeakng_loader.get_data_path()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(),
                                     _INITIALIZE_PHONEME_EVENTS)
        if rate <= 0:
            raise ConfigError(f"espeak-ng failed to initialise with data at {data}")
        self.lib = lib
        self.rate = rate
        self._run: _Run | None = None
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _Callback(self._on_synth)
        lib.espeak_SetSynthCallback(self._callback)
        self.voices = self._list_voices()
        self._current_voice: str | None = None

    def _on_synth(self, wav, n, events) -> int:
        run = self._run
        if run is None:
            return 0
        if n > 0:
            run.chunks.append(np.ctypeslib.as_array(wav, (n,)).astype(np.int16, copy=True))
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                run.phonemes.append((ev.id.string.decode("utf-8", "replace"), ev.sample))
            elif ev.type == _EVENT_WORD:
                run.words.append((ev.text_position, ev.length, ev.sample))
            i += 1
        return 0

    def _list_voices(self) -> list[VoiceInfo]:
        out: list[VoiceInfo] = []
        arr = self.lib.espeak_ListVoices(None)
        i = 0
        while arr[i]:
            v = arr[i].contents
            raw = v.languages or b""
            # languages = [priority byte][tag]\0 ... \0; the first tag is the voice's own.
            lang = raw[1:].split(b"\0")[0].decode() if raw else ""
            name = (v.name or b"").decode()
            ident = (v.identifier or b"").decode()
            out.append(VoiceInfo(lang or ident, lang, "espeak", f"{name} ({ident})"))
            i += 1
        return out

    def synth(self, text: str, voice: str, *, end_pause: bool, speed_wpm: int) -> _Run:
        """Synthesize ``text`` with ``voice``; the caller holds :data:`ESPEAK_LOCK`."""
        if voice != self._current_voice:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ConfigError(f"espeak could not select voice {voice!r}")
            self._current_voice = voice
        self.lib.espeak_SetParameter(_PARAM_RATE, speed_wpm, 0)
        run = _Run([], [], [])
        self._run = run
        data = text.encode("utf-8")
        flags = _CHARS_UTF8 | (_ENDPAUSE if end_pause else 0)
        try:
            err = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, flags,
                                        None, None)
        finally:
            self._run = None
        if err != 0:
            raise ConfigError(f"espeak_Synth failed with code {err} on {text[:40]!r}")
        return run


_LIB: _Library | None = None


def _library() -> _Library:
    global _LIB
    with ESPEAK_LOCK:
        if _LIB is None:
            _LIB = _Library()
        return _LIB


_PUNCT = ",.!?;:，。！？；：、\"'()（）《》“”‘’ "


def _is_pause(symbol: str) -> bool:
    return symbol.startswith("_") or not symbol


class EspeakEngine(TTSEngine):
    """espeak-ng voices (English ``en-us``, Mandarin ``cmn`` and ~100 more).

    Args:
        speed_wpm: speaking rate in words per minute (espeak's default is 175).
    """

    name = "espeak"
    default_voice = ENGLISH_VOICE

    def __init__(self, speed_wpm: int = 165) -> None:
        self.speed_wpm = speed_wpm
        self._lib = _library()

    @property
    def rate(self) -> int:
        """Output sample rate (22050 Hz for espeak-ng)."""
        return self._lib.rate

    def list_voices(self) -> list[VoiceInfo]:
        """The voices the espeak-ng library reports."""
        return list(self._lib.voices)

    def resolve_voice(self, voice: str | None) -> VoiceInfo:
        """Find an installed voice by language tag, name or identifier (case-insensitive)."""
        want = (voice or self.default_voice).strip().lower()
        for info in self._lib.voices:
            if want in (info.name.lower(), info.language.lower()):
                return info
        for info in self._lib.voices:
            desc = info.description.lower()
            if desc.startswith(want + " (") or \
                    desc.endswith((f"({want})", f"/{want})")):
                return info
        raise self.unknown_voice(voice or "")

    def synthesize(self, text: str, voice: str | None = None) -> Utterance:
        """Speak ``text``; Latin runs in a Mandarin line use English and vice versa.

        Numbers and prices are normalised for the voice's language first (see
        :mod:`vhuman.speech.normalize`).
        """
        info = self.resolve_voice(voice)
        line = normalize(text, info.language)
        mandarin = is_mandarin(info.language)
        runs = script_runs(line) or [(line, "latin")]
        parts: list[Utterance] = []
        for idx, (run_text, script) in enumerate(runs):
            if script == "cjk" and not mandarin:
                run_voice = MANDARIN_VOICE
            elif script == "latin" and mandarin:
                run_voice = ENGLISH_VOICE
            else:
                run_voice = info.name
            parts.append(self._synth_run(run_text, run_voice, end=idx == len(runs) - 1))
        utt = concat_utterances(parts, text=line, voice=voice or self.default_voice)
        return utt

    def _synth_run(self, text: str, voice: str, *, end: bool) -> Utterance:
        with ESPEAK_LOCK:
            run = self._lib.synth(text, voice, end_pause=end, speed_wpm=self.speed_wpm)
        rate = self._lib.rate
        pcm = np.concatenate(run.chunks) if run.chunks else np.zeros(0, np.int16)
        n = len(pcm)
        lang = "cmn" if is_mandarin(voice) else "en"
        starts = [min(max(s, 0), n) for _, s in run.phonemes]
        symbols = [p for p, _ in run.phonemes]
        if not starts or starts[0] > 0:  # leading silence before the first event
            symbols.insert(0, "_")
            starts.insert(0, 0)
        # Events arrive in order; keep times monotone even if espeak repeats a sample index.
        starts = list(np.maximum.accumulate(np.asarray(starts, np.int64)))
        ends = starts[1:] + [n]
        phonemes = tuple((s, a / rate, b / rate)
                         for s, a, b in zip(symbols, starts, ends, strict=True) if b > a)
        words = self._word_times(text, run, phonemes, rate, n)
        return Utterance(pcm, rate, phonemes, words, text, voice,
                         (lang,) * len(phonemes), "espeak")

    @staticmethod
    def _word_times(text: str, run: _Run, phonemes, rate: int, n: int):
        words: list[tuple[str, float, float]] = []
        for k, (pos, length, start) in enumerate(run.words):
            nxt = run.words[k + 1][2] if k + 1 < len(run.words) else n
            # CJK word events report length 1; the word runs to the next word's position.
            a = max(pos - 1, 0)
            b = run.words[k + 1][0] - 1 if k + 1 < len(run.words) else len(text)
            word = text[a: max(b, a + max(length, 1))].strip().strip(_PUNCT)
            # The word ends where its last spoken (non-pause) phoneme ends.
            end = start / rate
            for sym, a, b in phonemes:
                if a * rate >= nxt:
                    break
                if a * rate >= start and not _is_pause(sym):
                    end = b
            if word:
                words.append((word, start / rate, max(end, start / rate)))
        return tuple(words)
