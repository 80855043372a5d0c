"""`vhuman say` writes a WAV and a timeline JSON a tool (or the browser) can replay."""

import argparse
import json
import wave

import numpy as np

from vhuman.speech.cli import add_subcommand, say_to_files


def test_say_to_files_writes_audio_and_a_consistent_timeline(tmp_path):
    wav, js = tmp_path / "line.wav", tmp_path / "line.json"
    utt = say_to_files("爸爸妈妈！这款iPhone只要¥199。", "cmn", wav, js)
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert np.array_equal(pcm, utt.pcm)
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["schema"] == "vhuman.speech.timeline/1"
    assert "一百九十九元" in data["text"]
    assert abs(data["duration_s"] - len(pcm) / 22050) < 1e-3
    assert {p["lang"] for p in data["phonemes"]} == {"cmn", "en"}
    assert [w["word"] for w in data["words"]][:2] == ["爸爸", "妈妈"]
    frames = data["frames"]
    assert data["fps"] == 30 and abs(len(frames) - data["duration_s"] * 30) <= 2
    jaw = [f["weights"].get("jawOpen", 0.0) for f in frames]
    assert max(jaw) > 0.4 and jaw[-1] < 0.05
    assert all(set(f["weights"]) <= {"jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
               "mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight",
               "mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper",
               "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
               "mouthLowerDownRight", "tongueOut"} for f in frames)
    visemes = {v["viseme"] for v in data["visemes"]}
    assert {"PP", "aa"} <= visemes


def test_subcommand_runs_and_resamples(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="vhuman")
    add_subcommand(parser.add_subparsers())
    out = tmp_path / "hi.wav"
    args = parser.parse_args(["say", "Hello there.", "--voice", "en-us", "--out", str(out),
                              "--rate", "48000"])
    assert args.func(args) == 0
    with wave.open(str(out)) as w:
        assert w.getframerate() == 48000 and w.getnframes() > 48000 * 0.5
    args = parser.parse_args(["say", "--list-voices"])
    assert args.func(args) == 0
    assert "cmn" in capsys.readouterr().out
    args = parser.parse_args(["say", "no output given"])
    assert args.func(args) == 2
