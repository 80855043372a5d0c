"""Real espeak-ng 1.52 (espeakng-loader): audio with phoneme and word times, EN and Mandarin."""

import threading

import numpy as np
import pytest

from vhuman.core.errors import ConfigError
from vhuman.speech import get_engine, list_voices, synthesize
from vhuman.speech.espeak import EspeakEngine


@pytest.fixture(scope="module")
def tts() -> EspeakEngine:
    return get_engine("espeak")


def _check_timeline(utt):
    assert utt.pcm.dtype == np.int16 and utt.rate == 22050
    assert np.abs(utt.pcm.astype(np.int32)).max() > 3000, "no audible speech"
    starts = np.array([a for _, a, _ in utt.phonemes])
    ends = np.array([b for _, _, b in utt.phonemes])
    assert np.all(ends > starts)
    assert np.all(np.diff(starts) > 0), "phoneme starts must increase"
    # contiguous and covering the whole audio
    assert starts[0] == 0.0
    assert np.allclose(starts[1:], ends[:-1])
    assert ends[-1] == pytest.approx(utt.duration_s, abs=1e-6)
    for _, a, b in utt.words:
        assert 0 <= a <= b <= utt.duration_s + 1e-9


def _loud_at(utt, t0, t1):
    a, b = int(t0 * utt.rate), int(t1 * utt.rate)
    seg = utt.pcm[a:b].astype(np.float64)
    return np.sqrt(np.mean(seg ** 2)) if len(seg) else 0.0


def test_english_sentence_has_phonemes_covering_the_audio(tts):
    utt = tts.synthesize("Hello everyone, welcome to the show.", "en-us")
    _check_timeline(utt)
    assert set(utt.langs) == {"en"}
    assert [w for w, _, _ in utt.words][:3] == ["Hello", "everyone", "welcome"]
    spoken = [s for s, _, _ in utt.phonemes if not s.startswith("_")]
    assert "h" in spoken and "w" in spoken
    # vowels sound: the 'oU' of hello is loud, the trailing pause is quiet
    vowel = next((a, b) for s, a, b in utt.phonemes if s.endswith("oU"))
    assert _loud_at(utt, *vowel) > 10 * _loud_at(utt, utt.duration_s - 0.05, utt.duration_s) + 1


def test_mandarin_sentence_uses_the_mandarin_phoneme_set(tts):
    utt = tts.synthesize("爸爸妈妈，大家好。", "cmn")
    _check_timeline(utt)
    assert set(utt.langs) == {"cmn"}
    spoken = [s.lstrip("',") for s, _, _ in utt.phonemes if not s.startswith("_")]
    assert spoken[:4] == ["p", "A", "p", "A"]  # 爸爸: unaspirated p + a
    assert [w for w, _, _ in utt.words][:2] == ["爸爸", "妈妈"]


def test_mandarin_price_is_read_in_chinese_not_as_english_yen(tts):
    utt = tts.synthesize("只要¥199！", "cmn")
    _check_timeline(utt)
    assert utt.text == "只要一百九十九元!"
    assert set(utt.langs) == {"cmn"}  # no English run: nobody says "yen"
    joined = "".join(w for w, _, _ in utt.words)
    assert "一百" in joined and "元" in joined


def test_mixed_line_switches_voice_per_script_and_offsets_timings(tts):
    utt = tts.synthesize("这款iPhone只要十九元", "cmn")
    _check_timeline(utt)
    langs = [lang for lang in utt.langs]
    # Mandarin, then English for "iPhone", then Mandarin again
    runs = [langs[0]] + [b for a, b in zip(langs, langs[1:]) if a != b]
    assert runs == ["cmn", "en", "cmn"]
    words = [w for w, _, _ in utt.words]
    assert "Phone" in "".join(words)
    en_start = next(a for (_, a, _), lang in zip(utt.phonemes, utt.langs) if lang == "en")
    assert en_start > 0.3  # after 这款, not at 0: the English part's times were offset


def test_english_voice_reads_prices_as_dollars(tts):
    utt = tts.synthesize("Only $19.99!", "en-us")
    assert utt.text == "Only 19 dollars 99!"
    assert "dollars" in [w for w, _, _ in utt.words]


def test_unknown_voice_lists_installed_voices(tts):
    with pytest.raises(ConfigError) as err:
        tts.synthesize("hello", "martian")
    msg = str(err.value)
    assert "martian" in msg and "cmn" in msg and "en-us" in msg


def test_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="espeak"):
        get_engine("nope")


def test_list_voices_has_english_and_mandarin():
    names = {v.name for v in list_voices("espeak")}
    assert {"en-us", "cmn"} <= names


def test_concurrent_calls_are_serialised(tts):
    # espeak's C state is global; the lock must keep threaded calls from mixing voices.
    # (espeak adds a little random jitter, so compare phonemes and lengths, not samples.)
    texts = {"cmn": "大家好", "en-us": "hello there"}
    ref = {v: tts.synthesize(t, v) for v, t in texts.items()}
    out: list[tuple[str, object]] = []

    def run(voice):
        out.append((voice, tts.synthesize(texts[voice], voice)))

    threads = [threading.Thread(target=run, args=(v,)) for v in ["cmn", "en-us"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 6
    for voice, utt in out:
        assert [s for s, _, _ in utt.phonemes] == [s for s, _, _ in ref[voice].phonemes]
        assert abs(len(utt.pcm) - len(ref[voice].pcm)) < 0.02 * len(ref[voice].pcm)


def test_synthesize_whole_text_joins_sentences():
    utt = synthesize("大家好！今天只要19.9元。", "cmn")
    assert "十九点九元" in utt.text
    _check_timeline(utt)
