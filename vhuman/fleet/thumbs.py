"""Fleet page thumbnails: one small JPEG per room, refreshed every few seconds.

A thumbnail is the first keyframe of a short ``/media`` visit (the room encodes only while
someone watches, so a room nobody watches costs one encode per refresh), scaled to
:data:`THUMB_WIDTH` pixels wide. JPEG rooms are decoded at a reduced DCT scale; H.264 rooms
through PyAV. Decoding runs in a thread, never on the event loop; a room that fails to
answer keeps its last thumbnail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from vhuman.fleet.client import RoomUnreachable, grab_frame
from vhuman.fleet.process import Address
from vhuman.stream.protocol import Packet

log = logging.getLogger("vhuman.fleet.thumbs")

THUMB_WIDTH = 192
MAX_PARALLEL = 2


def to_thumbnail(codec: str, pkt: Packet, width: int = THUMB_WIDTH) -> bytes:
    """A ``width``-wide JPEG from one keyframe packet (JPEG or H.264 with its config)."""
    import simplejpeg
    from PIL import Image

    if codec == "jpeg":
        rgb = simplejpeg.decode_jpeg(pkt.payload, colorspace="RGB", fastdct=True,
                                     min_width=width)
    else:
        import av

        ctx = av.CodecContext.create("h264", "r")
        frames = ctx.decode(av.Packet(pkt.payload)) + ctx.decode(None)
        if not frames:
            raise ValueError("the keyframe did not decode")
        rgb = frames[0].to_ndarray(format="rgb24")
    h, w = rgb.shape[:2]
    height = max(2, round(h * width / w))
    small = np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))
    return simplejpeg.encode_jpeg(np.ascontiguousarray(small), quality=70, colorspace="RGB")


class Thumbnailer:
    """Keeps :attr:`images` (room id → JPEG bytes) fresh for the running rooms.

    Args:
        rooms: returns ``(room id, address)`` for every room that serves now.
        period_s: refresh interval; 0 turns thumbnails off.
    """

    def __init__(self, rooms: Callable[[], list[tuple[str, Address]]], period_s: float) -> None:
        self.rooms = rooms
        self.period_s = period_s
        self.images: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._sem = asyncio.Semaphore(MAX_PARALLEL)

    def start(self) -> None:
        if self.period_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="fleet-thumbnails")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.gather(*(self._one(rid, addr) for rid, addr in self.rooms()))
            await asyncio.sleep(self.period_s)

    async def _one(self, rid: str, addr: Address) -> None:
        async with self._sem:
            try:
                codec, pkt = await grab_frame(addr)
                self.images[rid] = await asyncio.to_thread(to_thumbnail, codec, pkt)
            except (RoomUnreachable, ValueError, OSError) as exc:
                log.debug("no thumbnail for %s: %s", rid, exc)
            except Exception:
                log.exception("thumbnail of %s failed", rid)
