"""The network APIs that steer a room: the producer's ``/control`` and the viewers' ``/chat``.

Both keep their protocol Sans-I/O (parse, validate, answer) with a thin websocket handler
on top; the media server (:mod:`vhuman.stream.server`) routes connections to them.
"""
