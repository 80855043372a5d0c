"""A real RTMP server for tests: Debian's nginx with libnginx-mod-rtmp, on a free port.

``NginxRtmp.find()`` returns None when nginx or the module is missing (tests skip then).
The server runs in the foreground (``daemon off``, no master process) with its config,
pid, logs and temp files under a test's tmp_path, so it needs no root and leaves nothing.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

NGINX = "/usr/sbin/nginx"
MODULE_CANDIDATES = (
    "/usr/lib/nginx/modules/ngx_rtmp_module.so",
    "/usr/lib64/nginx/modules/ngx_rtmp_module.so",
)
MODULE_CONF = "/usr/share/nginx/modules-available/mod-rtmp.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _module_path() -> str | None:
    for cand in MODULE_CANDIDATES:
        if Path(cand).is_file():
            return cand
    conf = Path(MODULE_CONF)
    if conf.is_file():  # "load_module modules/ngx_rtmp_module.so;" relative to nginx's prefix
        m = re.search(r"load_module\s+(\S+);", conf.read_text())
        if m:
            path = Path(m.group(1))
            path = path if path.is_absolute() else Path("/usr/share/nginx") / path
            if path.is_file():
                return str(path.resolve())
    return None


class NginxRtmp:
    """nginx serving ``rtmp://127.0.0.1:<port>/live/<key>`` (live on: push and play)."""

    def __init__(self, nginx: str, module: str, root: Path) -> None:
        self.nginx, self.module, self.root = nginx, module, root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @classmethod
    def find(cls, root: Path) -> NginxRtmp | None:
        nginx = shutil.which("nginx") or (NGINX if Path(NGINX).exists() else None)
        module = _module_path()
        if nginx is None or module is None:
            return None
        return cls(nginx, module, root)

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"

    def start(self, timeout: float = 5.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"load_module {self.module};\n"
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"pid {self.root}/nginx.pid;\n"
            f"error_log {self.root}/error.log info;\n"
            "events { worker_connections 64; }\n"
            "rtmp { server {\n"
            f"  listen 127.0.0.1:{self.port};\n"
            "  application live { live on; record off; wait_key on; wait_video on; }\n"
            "} }\n"
        )
        self.proc = subprocess.Popen(
            [self.nginx, "-p", str(self.root), "-c", str(conf), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()  # TERM: fast shutdown, connections cut
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()

    def log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""
