"""Record the stream to an MP4 file (H.264 + AAC, ``movflags=+faststart``).

A :class:`vhuman.stream.avout.Destination` of the shared encoder: it gets the same packets
as an RTMP push, so recording while pushing costs no second encode. The file is finalised
(index written and moved to the front, so it plays and seeks at once, also in a browser)
when the encoder closes: on a normal end, on Ctrl+C and on SIGTERM. A process killed with
SIGKILL or a power cut leaves an MP4 without its index, which players refuse.

The path is checked when the recorder is made, so a typo fails before the show starts.

Every recording says in its metadata that it is AI-generated (``comment``: the scene's
label, which always leads with the fixed disclosure; ``description``:
:data:`vhuman.safety.label.RECORDING_NOTICE`), besides the label burned into each frame.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from vhuman.core.errors import ConfigError
from vhuman.safety.label import RECORDING_NOTICE, ensure_label
from vhuman.stream.avout import Destination

log = logging.getLogger(__name__)

SUFFIXES = (".mp4", ".m4v", ".mov")


def recording_path(path: str | os.PathLike[str], *, now: float | None = None) -> Path:
    """Expand ``strftime`` fields (``show-%Y%m%d-%H%M.mp4``) and check the suffix.

    Raises:
        ConfigError: the name does not end in .mp4 (or .m4v / .mov).
    """
    text = os.fspath(path)
    if "%" in text:
        text = time.strftime(text, time.localtime(now))
    out = Path(text).expanduser()
    if out.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"recording {out} must end in .mp4 (the container is MP4)")
    return out


def check_writable(path: Path) -> None:
    """Make sure ``path`` can be created, by creating and removing a probe file beside it.

    Raises:
        ConfigError: the folder is missing, not a folder, or not writable; or ``path`` is
            a folder.
    """
    folder = path.parent
    if path.is_dir():
        raise ConfigError(f"cannot record to {path}: it is a folder; give a file name")
    if not folder.exists():
        raise ConfigError(f"cannot record to {path}: folder {folder} does not exist; create it")
    if not folder.is_dir():
        raise ConfigError(f"cannot record to {path}: {folder} is not a folder")
    probe = folder / f".{path.name}.{os.getpid()}.probe"
    try:
        with open(probe, "wb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot record to {path}: folder {folder} is not writable "
            f"({exc.strerror or exc}); choose another path"
        ) from None
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"cannot record to {path}: the file exists and is read-only")
        log.warning("recording will overwrite %s", path)


class Mp4Recorder(Destination):
    """Writes the encoder's packets to an MP4 file.

    Args:
        path: file to write (``strftime`` fields are expanded; it is overwritten).
        max_queue_s: seconds of video that may wait for the disk before video is dropped.
        label: the AI label shown on screen (written to the ``comment`` metadata; it always
            leads with the disclosure, so the default is 「AI 生成」).

    Raises:
        ConfigError: the path has the wrong suffix or its folder is not writable.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_queue_s: float = 4.0,
                 label: str = "") -> None:
        self.path = recording_path(path)
        self.label = ensure_label(label)
        check_writable(self.path)
        super().__init__(f"record {self.path.name}", max_queue_s=max_queue_s)
        self.finalised = False

    def _open(self) -> tuple[Any, tuple[Any, Any]]:
        import av

        try:
            container = av.open(str(self.path), "w", format="mp4",
                                container_options={"movflags": "+faststart"})
        except (av.FFmpegError, OSError) as exc:
            raise ConfigError(f"cannot record to {self.path}: {exc}") from None
        container.metadata["comment"] = self.label
        container.metadata["description"] = RECORDING_NOTICE
        log.info("recording to %s", self.path)
        return container, self._add_streams(container)

    def _close_container(self, container: Any) -> None:
        t0 = time.monotonic()
        super()._close_container(container)
        self.finalised = self.frames_written > 0
        log.info("recording %s finalised: %d frames, %.1f MB in %.1f s", self.path,
                 self.frames_written, self.bytes_written / 1e6, time.monotonic() - t0)

    def health(self) -> dict[str, Any]:
        """Recorder state for /health."""
        return {
            "path": str(self.path),
            "recording": self.accepting,
            "frames_written": self.frames_written,
            "frames_dropped": self.frames_dropped,
            "bytes_written": self.bytes_written,
            "finalised": self.finalised,
            "last_error": self.last_error,
        }
