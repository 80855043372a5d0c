"""Speech: TTS engines (espeak default, piper, coqui), visemes, and the speech queue.

The contract: ``get_engine(name).synthesize(text, voice) -> Utterance`` (int16 PCM, rate,
phoneme and word times); :class:`~vhuman.speech.queue.Speaker` plays lines tick by tick
with a lip-sync layer anchored to the same stream time as the audio.
"""

from vhuman.speech.base import (
    TTSEngine,
    Utterance,
    VoiceInfo,
    concat_utterances,
    engine_names,
    get_engine,
    register_engine,
)


def list_voices(engine: str = "espeak") -> list[VoiceInfo]:
    """Voices installed for ``engine``."""
    return get_engine(engine).list_voices()


def synthesize(text: str, voice: str | None = None, engine: str = "espeak") -> Utterance:
    """Synthesize ``text`` with ``engine`` (whole text; the Speaker splits by sentence)."""
    from vhuman.speech.cli import synthesize_text

    return synthesize_text(text, voice, engine)


def say_to_files(*args, **kwargs):
    """See :func:`vhuman.speech.cli.say_to_files`."""
    from vhuman.speech.cli import say_to_files as _impl

    return _impl(*args, **kwargs)


__all__ = ["TTSEngine", "Utterance", "VoiceInfo", "concat_utterances", "engine_names",
           "get_engine", "list_voices", "register_engine", "say_to_files", "synthesize"]
