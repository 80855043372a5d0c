"""vhuman: a real-time digital virtual human engine."""

__version__ = "0.1.0"
