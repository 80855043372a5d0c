"""Coqui TTS (optional extra ``coqui``; the maintained ``coqui-tts`` package, imported as ``TTS``).

Only local models: a checkpoint and its ``config.json`` that you trained or downloaded
yourself (nothing is fetched from a hub at run time). Timings come from the model: VITS
predicts a duration (in spectrogram frames) for every input token, and frames × hop length
is exactly the audio each token produced. Models without durations get their tokens
spread evenly over the audio (a rough mouth, but a moving one).

Setup notes (coqui-tts 0.28, torch 2.13 CPU): ``torchaudio``, ``torchcodec`` and ``six`` are
needed but not declared; see docs/speech.md.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from vhuman.core.errors import ConfigError, MissingDependencyError
from vhuman.speech.base import TTSEngine, Utterance, VoiceInfo
from vhuman.speech.normalize import normalize

INSTALL_HINT = ("pip install 'vhuman[coqui]'  (coqui-tts torch torchaudio torchcodec six; "
                "see docs/speech.md)")
_SPECIAL = {"<BLNK>", "<PAD>", "<BOS>", "<EOS>", ""}


def _import_coqui():
    try:
        import torch
        from TTS.api import TTS
    except ImportError as exc:
        raise MissingDependencyError(f"coqui-tts ({exc})", INSTALL_HINT) from exc
    except OSError as exc:  # e.g. a torchaudio build whose native library cannot load
        raise MissingDependencyError(
            f"a working torch/torchaudio for coqui-tts ({exc})", INSTALL_HINT) from exc
    return torch, TTS


class CoquiEngine(TTSEngine):
    """Local Coqui models.

    Args:
        model_path: checkpoint (``.pth``) of the default voice ``"default"``.
        config_path: its ``config.json`` (default: ``config.json`` beside the checkpoint).
        voices: more ``name → (model_path, config_path)`` entries.
        language: language of the models' text (picks number/price normalisation).
    """

    name = "coqui"
    default_voice = "default"

    def __init__(self, model_path: str | Path | None = None,
                 config_path: str | Path | None = None,
                 voices: dict[str, tuple[str | Path, str | Path | None]] | None = None,
                 language: str = "en") -> None:
        self._torch, self._TTS = _import_coqui()
        self._models: dict[str, tuple[Path, Path]] = {}
        if model_path is not None:
            self._models["default"] = self._paths(model_path, config_path)
        for name, (m, c) in (voices or {}).items():
            self._models[name] = self._paths(m, c)
        self.language = language
        self._loaded: dict[str, object] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _paths(model_path: str | Path, config_path: str | Path | None) -> tuple[Path, Path]:
        model = Path(model_path)
        config = Path(config_path) if config_path else model.with_name("config.json")
        if not model.is_file():
            raise ConfigError(f"coqui: model checkpoint {model} does not exist")
        if not config.is_file():
            raise ConfigError(f"coqui: model config {config} does not exist "
                              "(pass config_path=... or put config.json beside the model)")
        return model, config

    def list_voices(self) -> list[VoiceInfo]:
        """The Coqui models this engine knows, by voice name."""
        return [VoiceInfo(name, self.language, "coqui", str(m))
                for name, (m, _) in sorted(self._models.items())]

    def _api(self, voice: str | None):
        name = voice or self.default_voice
        if name not in self._models:
            path = Path(name)
            if path.suffix in (".pth", ".pt", ".tar") and path.exists():
                self._models[name] = self._paths(path, None)
            else:
                raise self.unknown_voice(name)
        api = self._loaded.get(name)
        if api is None:
            model, config = self._models[name]
            api = self._TTS(model_path=str(model), config_path=str(config), progress_bar=False)
            self._loaded[name] = api
        return api

    def synthesize(self, text: str, voice: str | None = None) -> Utterance:
        """Speak ``text`` with a Coqui model (one synthesis at a time).

        Raises:
            ConfigError: the voice is not installed.
        """
        line = normalize(text, self.language)
        with self._lock:  # torch already uses every core; one synthesis at a time
            api = self._api(voice)
            synth = api.synthesizer
            model = synth.tts_model
            rate = int(synth.output_sample_rate)
            tokenizer = model.tokenizer
            ids = tokenizer.text_to_ids(line)
            if not ids:
                raise ConfigError(f"coqui: no symbol of {text!r} is in the model's vocabulary")
            symbols = [tokenizer.decode([i]) for i in ids]
            wav, frames = self._infer(model, ids)
        pcm = np.clip(np.rint(wav * 32767.0), -32768, 32767).astype(np.int16)
        if frames is not None:
            hop = int(synth.tts_config.audio.hop_length)
            bounds = np.concatenate([[0], np.cumsum(np.asarray(frames, np.int64) * hop)])
        else:
            bounds = np.linspace(0, len(pcm), len(symbols) + 1).round().astype(np.int64)
        phonemes = _merge_special(symbols, bounds, len(pcm), rate)
        alphabet = "ipa" if getattr(tokenizer, "use_phonemes", False) else "chars"
        words = _words(phonemes)
        return Utterance(pcm, rate, phonemes, words, line, voice or self.default_voice,
                         ("en",) * len(phonemes), alphabet)

    def _infer(self, model, ids: list[int]):
        torch = self._torch
        x = torch.LongTensor(ids)[None]
        with torch.inference_mode():
            if hasattr(model, "inference"):
                try:
                    out = model.inference(x, aux_input={"x_lengths": torch.LongTensor([len(ids)])})
                except TypeError:
                    out = None
                if isinstance(out, dict) and out.get("model_outputs") is not None:
                    wav = out["model_outputs"].reshape(-1).float().cpu().numpy()
                    dur = out.get("durations")
                    frames = None if dur is None else dur.reshape(-1).cpu().numpy()
                    if frames is not None and len(frames) != len(ids):
                        frames = None
                    return wav, frames
        raise ConfigError(f"coqui: model {type(model).__name__} does not return a waveform "
                          "from inference(); only end-to-end models (VITS and kin) are supported")


def _merge_special(symbols: list[str], bounds: np.ndarray, n: int, rate: int):
    """Token spans → phonemes; blanks between tokens join the token before them."""
    out: list[list] = []
    for k, sym in enumerate(symbols):
        a, b = int(min(bounds[k], n)), int(min(bounds[k + 1], n))
        if sym in _SPECIAL:
            if out:
                out[-1][2] = b
                continue
            sym = "_"
        elif not sym.strip():
            sym = "_|"
        elif all(not c.isalnum() for c in sym):
            sym = "_"
        if out and out[-1][2] < a:
            out[-1][2] = a
        out.append([sym, a, b])
    if out:
        out[0][1] = 0
        out[-1][2] = n
    return tuple((s, a / rate, b / rate) for s, a, b in out if b > a)


def _words(phonemes) -> tuple[tuple[str, float, float], ...]:
    words, cur = [], []
    for p in list(phonemes) + [("_", 0.0, 0.0)]:
        if p[0].startswith("_"):
            if cur:
                words.append(("".join(s for s, _, _ in cur), cur[0][1], cur[-1][2]))
                cur = []
        else:
            cur.append(p)
    return tuple(words)
