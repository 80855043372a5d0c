"""``/metrics`` of the gateway: every room's figures with a ``room`` label (Prometheus).

Built on ``prometheus-client``'s custom-collector API: nothing is stored twice, each scrape
reads the supervisor's room states, the event log and the gateway's counters as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vhuman.fleet.events import EventLog
from vhuman.fleet.supervisor import STATES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_GAUGES = (  # summary key, metric name, help
    ("fps", "vhuman_room_fps", "Frames rendered per second."),
    ("stream_fps", "vhuman_room_stream_fps", "Frames per second sent to viewers."),
    ("viewers", "vhuman_room_viewers", "Connected /media viewers (at the room)."),
    ("rss_bytes", "vhuman_room_rss_bytes", "Resident memory of the room process."),
    ("uptime_s", "vhuman_room_uptime_seconds", "Seconds since the room (re)started."),
)


class FleetCollector:
    """Yields the fleet's metrics on every scrape.

    Args:
        rooms: returns the supervisor's room summaries.
        events: the room event log.
        gateway: returns gateway counters: ``connections`` (gauge) and
            ``bytes_proxied`` (room id → bytes sent to viewers).
    """

    def __init__(self, rooms: Callable[[], list[dict[str, Any]]], events: EventLog,
                 gateway: Callable[[], dict[str, Any]]) -> None:
        self.rooms = rooms
        self.events = events
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        rooms = self.rooms()
        up = GaugeMetricFamily("vhuman_room_up", "1 while the room runs and takes viewers.",
                               labels=["room"])
        state = GaugeMetricFamily("vhuman_room_state", "1 for the state the room is in.",
                                  labels=["room", "state"])
        restarts = CounterMetricFamily("vhuman_room_restarts", "Restarts of the room.",
                                       labels=["room"])
        frames = CounterMetricFamily("vhuman_room_frames_out", "Frames the current room "
                                     "process produced.", labels=["room"])
        gauges = {k: GaugeMetricFamily(name, help_, labels=["room"]) for k, name, help_ in _GAUGES}
        for r in rooms:
            rid = r["id"]
            up.add_metric([rid], 1.0 if r["state"] == "running" and r["accepting"] else 0.0)
            for s in STATES:
                state.add_metric([rid, s], 1.0 if r["state"] == s else 0.0)
            restarts.add_metric([rid], r["restarts"])
            frames.add_metric([rid], r["frames_out"] or 0)
            for key, fam in gauges.items():
                v = r.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    fam.add_metric([rid], float(v))
        yield from (up, state, restarts, frames, *gauges.values())
        ev = CounterMetricFamily("vhuman_room_events", "Room events (started, crashed, "
                                 "restarted ...).", labels=["room", "event"])
        for (rid, name), n in sorted(self.events.counts().items()):
            ev.add_metric([rid, name], n)
        yield ev
        gw = self.gateway()
        yield GaugeMetricFamily("vhuman_fleet_rooms", "Rooms in the fleet file.",
                                value=len(rooms))
        yield GaugeMetricFamily("vhuman_fleet_rooms_running", "Rooms running now.",
                                value=sum(r["state"] == "running" for r in rooms))
        yield GaugeMetricFamily("vhuman_gateway_connections", "Open websocket connections "
                                "through the gateway.", value=gw.get("connections", 0))
        sent = CounterMetricFamily("vhuman_gateway_bytes_sent", "Bytes the gateway sent to "
                                   "viewers and producers, by room.", labels=["room"])
        for rid, n in sorted(gw.get("bytes_proxied", {}).items()):
            sent.add_metric([rid], n)
        yield sent


def make_registry(collector: FleetCollector) -> CollectorRegistry:
    """A private registry (not the process-global one) holding ``collector``."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    return reg


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition."""
    return generate_latest(registry)
