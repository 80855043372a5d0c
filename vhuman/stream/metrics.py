"""``/metrics``: the server's counters and the room's health in Prometheus text format.

Rendered with prometheus-client from one snapshot (the ``/health`` document and the
server's counters), so the two pages always agree; a fleet adds its ``room`` label on top.
"""

from __future__ import annotations

import math
import re
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

_KNOWN = {"ok", "uptime_s", "fps", "input_fps", "viewers"}


class _Snapshot:
    """A one-shot collector over a health document and the server's counters."""

    def __init__(self, doc: dict[str, Any], stats: Any, labels: dict[str, str]) -> None:
        self.doc, self.stats, self.labels = doc, stats, labels

    def _gauge(self, name: str, help_: str, value: float) -> GaugeMetricFamily:
        g = GaugeMetricFamily(name, help_, labels=list(self.labels))
        g.add_metric(list(self.labels.values()), value)
        return g

    def _counter(self, name: str, help_: str, value: float) -> CounterMetricFamily:
        c = CounterMetricFamily(name, help_, labels=list(self.labels))
        c.add_metric(list(self.labels.values()), value)
        return c

    def collect(self):
        d, s = self.doc, self.stats
        yield self._gauge("vhuman_up", "1 while the server accepts viewers.", int(d["ok"]))
        yield self._gauge("vhuman_uptime_seconds", "Seconds since start.", d["uptime_s"])
        yield self._gauge("vhuman_viewers", "Connected /media viewers.", d["viewers"])
        yield self._gauge("vhuman_stream_fps", "Frames per second sent out.", d["fps"])
        yield self._gauge("vhuman_input_fps", "Frames per second submitted.", d["input_fps"])
        yield self._counter("vhuman_frames_submitted", "Frames submitted.", s.frames_submitted)
        yield self._counter("vhuman_frames_encoded", "Frames encoded.", s.frames_encoded)
        dropped = CounterMetricFamily("vhuman_frames_dropped", "Frames dropped, by where.",
                                      labels=[*self.labels, "stage"])
        dropped.add_metric([*self.labels.values(), "encoder"], s.dropped_encoder)
        dropped.add_metric([*self.labels.values(), "viewer"], d["dropped_viewers"])
        yield dropped
        yield self._counter("vhuman_encode_seconds", "Time spent encoding.", s.encode_seconds)
        yield self._counter("vhuman_audio_chunks", "Audio chunks sent.", s.audio_chunks)
        yield self._counter("vhuman_bytes_sent", "Bytes sent to viewers.", s.bytes_out)
        yield self._counter("vhuman_viewers_connected", "Viewers ever connected.",
                            s.viewers_total)
        for key, value in d.items():
            if key in _KNOWN or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                continue
            name = "vhuman_health_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)
            yield self._gauge(name, f"/health {key}", value)


def render_metrics(doc: dict[str, Any], stats: Any, *, labels: dict[str, str] | None = None
                   ) -> str:
    """Prometheus text for one snapshot.

    ``labels`` (e.g. ``{"room": "tea"}``) go on every sample.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(doc, stats, dict(labels or {})))
    return generate_latest(registry).decode()
