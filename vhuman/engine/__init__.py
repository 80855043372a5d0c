"""Clock, tick loop, frame types and the engine that wires drivers, mixer and renderer."""
