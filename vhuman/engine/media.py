"""The engine's one ordered media stream: video frames, audio chunks and markers.

Everything that leaves the engine for an output (the ``/media`` viewers, RTMP pushes, the
MP4 recording, a plugin) comes through here, in the order the engine produced it, on the
event loop thread (livekit's avatar contract: one iterator of ``VideoFrame | AudioFrame |
AudioSegmentEnd``, and ``clear_buffer`` reaching every consumer). A ``clear`` marker
follows an interrupt at once, so an output can drop what it still holds of the cut line
within the tick.

Consumers either subscribe a callback (cheap, must not block: hand CPU work to a thread)
or iterate :meth:`MediaStream.items` (a bounded queue per iterator; when it overflows the
oldest item goes and the iterator counts it).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Callable

from vhuman.core.frames import MediaItem

log = logging.getLogger("vhuman.engine")

Consumer = Callable[[MediaItem], None]


class MediaStream:
    """Fans the engine's ordered output out to its consumers."""

    def __init__(self) -> None:
        self._consumers: list[Consumer] = []
        self.pushed = 0

    def subscribe(self, consumer: Consumer) -> Callable[[], None]:
        """Call ``consumer(item)`` for every item from now on; returns an unsubscribe."""
        self._consumers.append(consumer)

        def unsubscribe() -> None:
            if consumer in self._consumers:
                self._consumers.remove(consumer)

        return unsubscribe

    def push(self, item: MediaItem) -> None:
        """Hand ``item`` to every consumer in subscription order (the engine calls this)."""
        self.pushed += 1
        for consumer in tuple(self._consumers):
            try:
                consumer(item)
            except Exception:  # one broken output must not starve the others
                log.exception("media consumer %r failed", consumer)

    async def items(self, *, max_queue: int = 256) -> AsyncIterator[MediaItem]:
        """Iterate the stream from now on (a bounded queue; the oldest item is dropped)."""
        queue: collections.deque[MediaItem] = collections.deque(maxlen=max_queue)
        ready = asyncio.Event()

        def take(item: MediaItem) -> None:
            queue.append(item)
            ready.set()

        unsubscribe = self.subscribe(take)
        try:
            while True:
                while not queue:
                    ready.clear()
                    await ready.wait()
                yield queue.popleft()
        finally:
            unsubscribe()
