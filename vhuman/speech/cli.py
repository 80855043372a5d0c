"""``vhuman say``: speak text to a WAV file and a JSON phoneme/word/viseme timeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vhuman.speech.base import Utterance, concat_utterances, engine_names, get_engine
from vhuman.speech.normalize import split_sentences
from vhuman.speech.resample import resample
from vhuman.speech.visemes import build_track, keyframes

SCHEMA = "vhuman.speech.timeline/1"


def synthesize_text(text: str, voice: str | None = None, engine: str = "espeak") -> Utterance:
    """Synthesize a whole text sentence by sentence and join the results."""
    tts = get_engine(engine)
    voice = voice or tts.default_voice
    parts = [tts.synthesize(s, voice) for s in split_sentences(text)]
    if not parts:
        parts = [tts.synthesize(text, voice)]
    return concat_utterances(parts, text=" ".join(p.text for p in parts), voice=voice)


def timeline(utt: Utterance, *, fps: float = 30.0, engine: str = "") -> dict:
    """The JSON-ready timeline of ``utt``: phonemes, words, visemes, ARKit keyframes."""
    track = build_track(utt)
    return {
        "schema": SCHEMA,
        "text": utt.text,
        "voice": utt.voice,
        "engine": engine,
        "duration_s": round(utt.duration_s, 4),
        "alphabet": utt.alphabet,
        "phonemes": [{"symbol": s, "start": round(a, 4), "end": round(b, 4), "lang": lang}
                     for (s, a, b), lang in zip(utt.phonemes, utt.langs, strict=True)],
        "words": [{"word": w, "start": round(a, 4), "end": round(b, 4)}
                  for w, a, b in utt.words],
        "visemes": [{"viseme": v, "start": round(a, 4), "end": round(b, 4)}
                    for v, a, b in track.visemes],
        "fps": fps,
        "frames": keyframes(track, fps),
    }


def say_to_files(text: str, voice: str | None, out_wav: str | Path | None,
                 out_json: str | Path | None = None, *, engine: str = "espeak",
                 rate: int | None = None, fps: float = 30.0) -> Utterance:
    """Speak ``text`` into ``out_wav`` (16-bit mono) and its timeline into ``out_json``.

    Args:
        text: what to say (any length; split by sentence).
        voice: voice name (None: the engine's default).
        out_wav: WAV path, or None for no audio file.
        out_json: timeline path, or None.
        engine: TTS engine name.
        rate: resample the WAV to this rate (default: the engine's own rate).
        fps: keyframe rate of the ARKit weights in the JSON.

    Returns:
        The utterance that was written.
    """
    from vhuman.speech.wav import write_wav

    utt = synthesize_text(text, voice, engine)
    if out_wav is not None:
        pcm, out_rate = utt.pcm, utt.rate
        if rate and rate != utt.rate:
            pcm, out_rate = resample(utt.pcm, utt.rate, rate), rate
        write_wav(out_wav, pcm, out_rate)
    if out_json is not None:
        data = timeline(utt, fps=fps, engine=engine)
        Path(out_json).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                                  encoding="utf-8")
    return utt


def add_subcommand(subparsers) -> None:
    """Add ``vhuman say`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "say", help="speak text to a WAV file and a phoneme/viseme timeline (JSON)",
        description="Synthesize TEXT (English, Mandarin or mixed; prices and numbers are "
                    "read in the voice's language) to --out, with its timeline in --json.")
    p.add_argument("text", nargs="?", help="what to say")
    p.add_argument("--voice", default=None, help="voice name (espeak: en-us, cmn, ...)")
    p.add_argument("--engine", default="espeak", choices=engine_names())
    p.add_argument("--out", default=None, help="WAV file to write")
    p.add_argument("--json", default=None, help="timeline JSON file to write")
    p.add_argument("--rate", type=int, default=None, help="WAV sample rate (default: engine's)")
    p.add_argument("--fps", type=float, default=30.0, help="keyframe rate in the JSON")
    p.add_argument("--list-voices", action="store_true", help="list installed voices")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import sys

    if args.list_voices:
        for v in get_engine(args.engine).list_voices():
            sys.stdout.write(f"{v.name}\t{v.language}\t{v.description}\n")
        return 0
    if not args.text:
        sys.stderr.write("vhuman say: give TEXT to speak (or --list-voices)\n")
        return 2
    if args.out is None and args.json is None:
        sys.stderr.write("vhuman say: give --out file.wav and/or --json file.json\n")
        return 2
    utt = say_to_files(args.text, args.voice, args.out, args.json, engine=args.engine,
                       rate=args.rate, fps=args.fps)
    sys.stderr.write(f"{utt.duration_s:.2f} s of speech, {len(utt.phonemes)} phonemes: "
                     f"{args.out or ''} {args.json or ''}\n")
    return 0
