"""The studio: the one object that holds a room's engine, speaker, cue driver and compositor.

The show runner and the network APIs talk to the :class:`~vhuman.studio.studio.Studio`
only; it owns every spoken line (one moderation gate, the only subtitle writer) and turns a
scene into the engine's view (camera, lights, background).
"""
