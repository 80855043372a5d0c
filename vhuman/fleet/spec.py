"""The fleet file: which rooms to run, how, and with which resources.

A fleet file is YAML, parsed at the edge into frozen dataclasses. Every problem in the file
is reported at once as ``file:line: what — what to do`` (the same collector shows and scenes
use, :mod:`vhuman.scenes.yamlsrc`). The file is hostile input: its size is capped, anchors
and aliases are refused (no billion laughs), and secrets are never written in it: push
addresses and control tokens are ``env:NAME`` references, resolved from the environment of
the room process only.

Example (see ``examples/fleets/two_rooms.yaml``)::

    name: winter-sale
    gateway: {host: 127.0.0.1, port: 8800}
    supervise: {hang_s: 10, backoff_s: 1, backoff_max_s: 30}
    defaults: {avatar: procedural, size: 640x360, fps: 30, codec: jpeg}
    rooms:
      - id: tea
        show: shows/tea.yaml
        token: env:ROOM_TEA_TOKEN
        push: [env:ROOM_TEA_PUSH]
        resources: {cpus: 1, gpu: 0.25}
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vhuman.core.errors import ConfigError
from vhuman.scenes.yamlsrc import (
    FileProblems,
    LineDict,
    LineList,
    Problem,
    Problems,
    is_number,
    line_of,
    load_yaml,
    unknown_keys,
)

MAX_FILE_BYTES = 256 * 1024
MAX_ROOMS = 2000
MIN_SIZE = (160, 120)  # the compositor's overlays need this much
ROOM_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
ENV_REF = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]{0,127})")
CODECS = ("jpeg", "h264")

TOP_KEYS = ("name", "gateway", "supervise", "defaults", "rooms", "log_dir", "token")
ROOM_KEYS = ("id", "avatar", "scene", "show", "size", "fps", "codec", "push", "token",
             "voice", "resources")
DEFAULT_KEYS = tuple(k for k in ROOM_KEYS if k not in ("id", "token", "push"))
GATEWAY_KEYS = ("host", "port", "max_connections", "max_viewers_per_room", "thumbnails_s")
SUPERVISE_KEYS = ("hang_s", "start_timeout_s", "backoff_s", "backoff_max_s", "stable_s",
                  "drain_s", "poll_s")
RESOURCE_KEYS = ("cpus", "gpu", "memory_mb", "custom")


@dataclass(frozen=True, slots=True)
class Resources:
    """What one room asks of a machine (Ray placement; advisory on one machine)."""

    cpus: float = 1.0
    gpu: float = 0.0
    memory_mb: int = 0
    custom: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.cpus <= 256:
            raise ConfigError(f"resources.cpus {self.cpus} is out of range 0..256")
        if not (0 <= self.gpu <= 1 or (self.gpu == int(self.gpu) and self.gpu <= 16)):
            raise ConfigError(f"resources.gpu {self.gpu} must be a fraction 0..1 or 1..16 GPUs")


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """One room: a host with its show, picture and outputs.

    ``push`` and ``token`` hold environment variable *names*, never values.
    """

    id: str
    avatar: str = "default"
    scene: str | None = None
    show: str | None = None
    size: tuple[int, int] = (1280, 720)
    fps: float = 30.0
    codec: str = "jpeg"
    push: tuple[str, ...] = ()
    token_env: str | None = None
    voice: str | None = None
    resources: Resources = field(default_factory=Resources)
    line: int = 0

    def __post_init__(self) -> None:
        if not ROOM_ID.fullmatch(self.id):
            raise ConfigError(f"room id {self.id!r} must be 1-40 of a-z 0-9 _ - "
                              "(it becomes a URL path)")
        if self.codec not in CODECS:
            raise ConfigError(f"room {self.id}: codec must be one of {CODECS}")


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    """The one port in front of every room."""

    host: str = "127.0.0.1"
    port: int = 8800
    max_connections: int = 512
    max_viewers_per_room: int = 64
    thumbnails_s: float = 2.0


@dataclass(frozen=True, slots=True)
class SuperviseSpec:
    """When a room counts as hung, and how restarts back off.

    Attributes:
        hang_s: no new frame (``frames_out`` on /health) for this long → hung, restarted.
        start_timeout_s: a start that is not serving frames by then counts as a crash.
        backoff_s: first wait before a restart; doubles up to ``backoff_max_s``.
        stable_s: a room that ran this long starts its backoff over.
        drain_s: how long a drain waits for the line being spoken to end.
        poll_s: health poll interval.
    """

    hang_s: float = 10.0
    start_timeout_s: float = 60.0
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    stable_s: float = 60.0
    drain_s: float = 30.0
    poll_s: float = 1.0


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """A parsed, validated fleet file."""

    name: str
    rooms: tuple[RoomSpec, ...]
    gateway: GatewaySpec = field(default_factory=GatewaySpec)
    supervise: SuperviseSpec = field(default_factory=SuperviseSpec)
    log_dir: Path | None = None
    token_env: str | None = None
    path: Path | None = None

    def room(self, room_id: str) -> RoomSpec | None:
        """The room called ``room_id``, or None."""
        return next((r for r in self.rooms if r.id == room_id), None)


def refuse_aliases(text: str, file: str, probs: Problems) -> None:
    """Add a problem for every YAML anchor or alias (they can expand exponentially)."""
    try:
        for ev in yaml.parse(text, Loader=yaml.SafeLoader):
            anchor = getattr(ev, "anchor", None)
            if anchor is not None:
                kind = "alias" if isinstance(ev, yaml.AliasEvent) else "anchor"
                probs.add(ev.start_mark.line + 1, f"YAML {kind} &{anchor}/*{anchor} is not "
                          "allowed in a fleet file", "write the value out in full")
    except yaml.YAMLError:
        pass  # load_yaml reports syntax errors with their line


class _Parser:
    def __init__(self, file: Path, probs: Problems, env: dict[str, str]) -> None:
        self.file = file
        self.base = file.parent
        self.probs = probs
        self.env = env

    def number(self, d: LineDict, key: str, lo: float, hi: float, where: str) -> float | None:
        v = d.get(key)
        if v is None:
            return None
        if not is_number(v) or not lo <= v <= hi:
            self.probs.add(d.key_line(key), f"{where}.{key} must be a number {lo:g}..{hi:g}, "
                           f"got {str(v)[:40]!r}")
            return None
        return float(v)

    def mapping(self, v: Any, line: int, where: str, keys: tuple[str, ...]) -> LineDict | None:
        if v is None:
            return None
        if not isinstance(v, LineDict):
            self.probs.add(line, f"{where} must be a mapping of key: value")
            return None
        unknown_keys(v, keys, where, self.probs)
        return v

    def env_ref(self, v: Any, line: int, where: str) -> str | None:
        """The variable name of an ``env:NAME`` value; inline secrets are refused."""
        if not isinstance(v, str) or not ENV_REF.fullmatch(v.strip()):
            shown = "a value" if isinstance(v, str) else type(v).__name__
            self.probs.add(line, f"{where} must be env:NAME, got {shown} (inline secrets are "
                           "refused: the file would hold the key)",
                           "export the secret in an environment variable and write env:NAME")
            return None
        name = ENV_REF.fullmatch(v.strip()).group(1)
        if not self.env.get(name, "").strip():
            self.probs.add(line, f"{where}: environment variable {name} is empty or not set",
                           f"export {name}=... before starting the fleet")
        return name

    def path(self, v: Any, line: int, where: str) -> str | None:
        if not isinstance(v, str) or not v.strip():
            self.probs.add(line, f"{where} must be a file path")
            return None
        p = (self.base / v).expanduser()
        if not p.is_file():
            self.probs.add(line, f"{where}: file {v!r} not found (paths are relative to the "
                           f"fleet file's folder {self.base})")
            return None
        return str(p.resolve())

    def room_fields(self, d: LineDict, where: str, out: dict[str, Any]) -> None:
        if "avatar" in d:
            v = d["avatar"]
            if v in ("default", "procedural"):
                out["avatar"] = v
            else:
                p = self.path(v, d.key_line("avatar"), f"{where}.avatar")
                if p is not None:
                    out["avatar"] = p
        for key in ("scene", "show"):
            if key in d:
                p = self.path(d[key], d.key_line(key), f"{where}.{key}")
                if p is not None:
                    out[key] = p
        if "size" in d:
            out_size = self.size(d["size"], d.key_line("size"), where)
            if out_size is not None:
                out["size"] = out_size
        fps = self.number(d, "fps", 1, 120, where)
        if fps is not None:
            out["fps"] = fps
        if "codec" in d:
            if d["codec"] not in CODECS:
                self.probs.add(d.key_line("codec"), f"{where}.codec must be one of "
                               f"{', '.join(CODECS)}, got {str(d['codec'])[:20]!r}")
            else:
                out["codec"] = d["codec"]
        if "voice" in d:
            v = d["voice"]
            if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", v):
                self.probs.add(d.key_line("voice"), f"{where}.voice must be a voice name "
                               "like en-us or cmn")
            else:
                out["voice"] = v
        if "resources" in d:
            res = self.resources(d["resources"], d.key_line("resources"), f"{where}.resources")
            if res is not None:
                out["resources"] = res

    def size(self, v: Any, line: int, where: str) -> tuple[int, int] | None:
        from vhuman.engine.config import parse_size

        try:
            w, h = parse_size(str(v))
        except ConfigError as exc:
            self.probs.add(line, f"{where}.size: {exc}")
            return None
        if w < MIN_SIZE[0] or h < MIN_SIZE[1]:
            self.probs.add(line, f"{where}.size {w}x{h} is below {MIN_SIZE[0]}x{MIN_SIZE[1]}",
                           "the overlays need at least 160x120")
            return None
        return w, h

    def resources(self, v: Any, line: int, where: str) -> Resources | None:
        d = self.mapping(v, line, where, RESOURCE_KEYS)
        if d is None:
            return None
        cpus = self.number(d, "cpus", 0, 256, where)
        gpu = self.number(d, "gpu", 0, 16, where)
        if gpu is not None and gpu > 1 and gpu != int(gpu):
            self.probs.add(d.key_line("gpu"), f"{where}.gpu above 1 must be whole GPUs")
            gpu = None
        mem = self.number(d, "memory_mb", 0, 1 << 20, where)
        custom: list[tuple[str, float]] = []
        if d.get("custom") is not None and not isinstance(d["custom"], LineDict):
            self.probs.add(d.key_line("custom"), f"{where}.custom must be a mapping "
                           "name: amount (Ray custom resources)")
        elif isinstance(d.get("custom"), LineDict):
            cd = d["custom"]
            for k, amount in cd.items():
                if not isinstance(k, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", k):
                    self.probs.add(cd.key_line(k), f"{where}.custom: resource name {k!r} "
                                   "must be a short identifier")
                elif not is_number(amount) or not 0 < amount <= 1e6:
                    self.probs.add(cd.key_line(k), f"{where}.custom.{k} must be a number > 0")
                else:
                    custom.append((k, float(amount)))
        return Resources(cpus=1.0 if cpus is None else cpus, gpu=gpu or 0.0,
                         memory_mb=int(mem or 0), custom=tuple(custom))


def parse_fleet(data: Any, file: str | Path, *, env: dict[str, str] | None = None
                ) -> FleetSpec:
    """Validate parsed YAML into a :class:`FleetSpec`.

    Raises:
        FileProblems: every problem, with file:line.
    """
    path = Path(file)
    probs = Problems(path)
    ps = _Parser(path, probs, dict(os.environ) if env is None else env)
    if not isinstance(data, LineDict):
        probs.add(line_of(data, 1), "a fleet file is a mapping with a rooms: list")
        probs.raise_if_any()
    unknown_keys(data, TOP_KEYS, "the fleet file", probs)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not 0 < len(name) <= 80:
        probs.add(data.key_line("name"), "name must be text of 1-80 characters")
        name = path.stem
    gw = GatewaySpec()
    g = ps.mapping(data.get("gateway"), data.key_line("gateway"), "gateway", GATEWAY_KEYS)
    if g is not None:
        host = g.get("host", gw.host)
        if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.:_-]{1,253}", host):
            probs.add(g.key_line("host"), "gateway.host must be an address like 127.0.0.1")
            host = gw.host
        port = ps.number(g, "port", 0, 65535, "gateway")
        conns = ps.number(g, "max_connections", 1, 100_000, "gateway")
        viewers = ps.number(g, "max_viewers_per_room", 1, 10_000, "gateway")
        thumbs = ps.number(g, "thumbnails_s", 0, 3600, "gateway")
        gw = GatewaySpec(host=host, port=gw.port if port is None else int(port),
                         max_connections=int(conns or gw.max_connections),
                         max_viewers_per_room=int(viewers or gw.max_viewers_per_room),
                         thumbnails_s=gw.thumbnails_s if thumbs is None else thumbs)
    sup = SuperviseSpec()
    s = ps.mapping(data.get("supervise"), data.key_line("supervise"), "supervise",
                   SUPERVISE_KEYS)
    if s is not None:
        vals = {k: ps.number(s, k, 0.05, 86400, "supervise") for k in SUPERVISE_KEYS}
        sup = SuperviseSpec(**{k: v for k, v in vals.items() if v is not None})
    token_env = None
    if "token" in data:
        token_env = ps.env_ref(data["token"], data.key_line("token"), "token")
    log_dir = None
    if "log_dir" in data:
        if not isinstance(data["log_dir"], str) or not data["log_dir"].strip():
            probs.add(data.key_line("log_dir"), "log_dir must be a folder path")
        else:
            log_dir = (path.parent / data["log_dir"]).expanduser()
    defaults: dict[str, Any] = {}
    dd = ps.mapping(data.get("defaults"), data.key_line("defaults"), "defaults", DEFAULT_KEYS)
    if dd is not None:
        ps.room_fields(dd, "defaults", defaults)
    rooms = _rooms(ps, data, defaults)
    probs.raise_if_any()
    return FleetSpec(name=name, rooms=tuple(rooms), gateway=gw, supervise=sup,
                     log_dir=log_dir, token_env=token_env, path=path)


def _rooms(ps: _Parser, data: LineDict, defaults: dict[str, Any]) -> list[RoomSpec]:
    probs = ps.probs
    items = data.get("rooms")
    if not isinstance(items, LineList) or not items:
        probs.add(data.key_line("rooms"), "rooms must be a non-empty list",
                  "add rooms:\n  - id: room1\n    show: my_show.yaml")
        return []
    if len(items) > MAX_ROOMS:
        probs.add(items.line, f"{len(items)} rooms is over the limit of {MAX_ROOMS} per file",
                  "split the fleet into several files")
        return []
    rooms: list[RoomSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        line = items.item_line(i)
        where = f"rooms[{i}]"
        if not isinstance(item, LineDict):
            probs.add(line, f"{where} must be a mapping with an id")
            continue
        unknown_keys(item, ROOM_KEYS, where, probs)
        rid = item.get("id")
        if not isinstance(rid, str) or not ROOM_ID.fullmatch(rid):
            probs.add(item.key_line("id"), f"{where}.id must be 1-40 of a-z 0-9 _ - "
                      f"(starting with a letter or digit), got {str(rid)[:40]!r}",
                      "it becomes the URL /rooms/<id>/")
            continue
        if rid in seen:
            probs.add(item.key_line("id"), f"room id {rid!r} is used twice (first on line "
                      f"{seen[rid]})", "give every room its own id")
            continue
        seen[rid] = item.key_line("id")
        where = f"room {rid}"
        fields = dict(defaults)
        ps.room_fields(item, where, fields)
        push: list[str] = []
        if "push" in item:
            pv = item["push"]
            plist = pv if isinstance(pv, LineList) else LineList([pv])
            if not isinstance(pv, LineList):
                plist.lines.append(item.key_line("push"))
            for j, one in enumerate(plist):
                name = ps.env_ref(one, plist.item_line(j), f"{where}.push")
                if name is not None:
                    push.append(name)
        token_env = None
        if "token" in item:
            token_env = ps.env_ref(item["token"], item.key_line("token"), f"{where}.token")
        try:
            rooms.append(RoomSpec(id=rid, push=tuple(push), token_env=token_env,
                                  line=item.line, **fields))
        except ConfigError as exc:
            probs.add(item.line, str(exc))
    return rooms


def load_fleet_text(text: str, file: str | Path = "<fleet>", *,
                    env: dict[str, str] | None = None) -> FleetSpec:
    """Parse fleet YAML text (bounded, no aliases) into a :class:`FleetSpec`."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise FileProblems(str(file), [Problem(str(file), 0, f"the file is {size} bytes, over "
                                               f"the {MAX_FILE_BYTES} byte limit",
                                               "split the fleet into several files")])
    probs = Problems(file)
    refuse_aliases(text, str(file), probs)
    probs.raise_if_any()
    return parse_fleet(load_yaml(text, file), file, env=env)


def load_fleet(path: str | Path, *, env: dict[str, str] | None = None) -> FleetSpec:
    """Read and validate a fleet file.

    Raises:
        ConfigError: the file is missing, too big or not UTF-8.
        FileProblems: listing every problem with file:line and what to do.
    """
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{p}: fleet file not found; check the path") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the fleet file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{p}: over the {MAX_FILE_BYTES} byte limit for a fleet file; "
                          "split it into several files")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    return load_fleet_text(text, p, env=env)
