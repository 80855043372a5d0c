"""Many rooms: several live hosts per machine, and a fleet on Ray beyond one machine.

One job per module:

- :mod:`~vhuman.fleet.spec` — the fleet file (validated, file:line on every problem).
- :mod:`~vhuman.fleet.process` — one room's OS process (the host CLI on its own port).
- :mod:`~vhuman.fleet.roomproc` — a room process's entry point (dies with its parent).
- :mod:`~vhuman.fleet.client` — bounded talk to a room: /health, /control, a /media frame.
- :mod:`~vhuman.fleet.resume` — resuming a restarted room's show at its segment.
- :mod:`~vhuman.fleet.supervisor` — keeps rooms running: crash/hang detection, backoff.
- :mod:`~vhuman.fleet.raybackend` — rooms as Ray actors (optional extra ``vhuman[fleet]``).
- :mod:`~vhuman.fleet.gateway` — one port: fleet page, /rooms/<id>/ proxy, /health.
- :mod:`~vhuman.fleet.metrics` — /metrics with a ``room`` label (prometheus-client).
- :mod:`~vhuman.fleet.thumbs` — the fleet page's live thumbnails.
- :mod:`~vhuman.fleet.events` — the room event log.
- :mod:`~vhuman.fleet.cli` — ``vhuman fleet FLEET.yaml [--ray ADDRESS]``.

See docs/fleet.md.
"""
