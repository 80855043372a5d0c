"""Coqui (optional extra): a tiny random VITS, built and saved here, speaks with durations.

Runs where coqui-tts, torch and a loadable torchaudio are installed (see docs/speech.md);
the missing-dependency path is tested everywhere.
"""

import sys

import numpy as np
import pytest

from vhuman.core.errors import ConfigError, MissingDependencyError


def test_missing_coqui_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "TTS", None)
    monkeypatch.setitem(sys.modules, "TTS.api", None)
    from vhuman.speech.coqui import CoquiEngine

    with pytest.raises(MissingDependencyError, match=r"vhuman\[coqui\]"):
        CoquiEngine()


@pytest.fixture(scope="module")
def tiny_vits(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("TTS.api")
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    torch.manual_seed(0)
    chars = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters", pad="_", eos="", bos="",
        blank=None, characters="abcdefghijklmnopqrstuvwxyz0123456789", punctuations="!,.? ",
        phonemes=None)
    args = VitsArgs(
        hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=2,
        num_layers_text_encoder=1, num_layers_flow=1, num_layers_posterior_encoder=1,
        resblock_type_decoder="2", upsample_rates_decoder=[8, 8, 4],
        upsample_initial_channel_decoder=32, upsample_kernel_sizes_decoder=[16, 16, 8],
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3]],
        use_sdp=False, init_discriminator=False)
    cfg = VitsConfig(model_args=args, characters=chars, use_phonemes=False,
                     text_cleaner="basic_cleaners", add_blank=True)
    cfg.audio.sample_rate = 16000
    cfg.audio.hop_length = 256
    cfg.audio.win_length = 1024
    cfg.audio.fft_size = 1024
    model = Vits(cfg)
    d = tmp_path_factory.mktemp("vits")
    torch.save({"model": model.state_dict()}, d / "model.pth")
    cfg.save_json(str(d / "config.json"))
    return d / "model.pth", d / "config.json"


@pytest.mark.slow  # builds a model and imports torch (~10 s)
def test_tiny_vits_speaks_with_token_durations(tiny_vits):
    from vhuman.speech.coqui import CoquiEngine
    from vhuman.speech.visemes import build_track

    model, config = tiny_vits
    eng = CoquiEngine(model, config)
    utt = eng.synthesize("hello world, only $5")
    assert utt.rate == 16000 and utt.alphabet == "chars"
    assert utt.text == "hello world, only 5 dollars"
    assert len(utt.pcm) > 0 and np.abs(utt.pcm).max() > 0
    syms = [s for s, _, _ in utt.phonemes]
    assert "".join(s for s in syms if not s.startswith("_")) == "helloworldonly5dollars"
    starts = np.array([a for _, a, _ in utt.phonemes])
    ends = np.array([b for _, _, b in utt.phonemes])
    assert starts[0] == 0 and np.all(ends > starts) and np.allclose(starts[1:], ends[:-1])
    assert ends[-1] == pytest.approx(utt.duration_s)
    assert [w for w, _, _ in utt.words] == ["hello", "world", "only", "5", "dollars"]
    track = build_track(utt)
    assert track.weights.shape[0] >= int(utt.duration_s * 100)
    with pytest.raises(ConfigError, match="default"):
        eng.synthesize("hi", "nobody")


def test_missing_model_file_is_a_config_error(tmp_path):
    pytest.importorskip("TTS.api")
    from vhuman.speech.coqui import CoquiEngine

    with pytest.raises(ConfigError, match="does not exist"):
        CoquiEngine(tmp_path / "nope.pth")
