"""Motion sources: the Driver contract, the registry and the built-in drivers."""

from vhuman.drivers.base import DRIVER_API_VERSION, Driver, DriverContext
from vhuman.drivers.registry import DriverRegistry, default_registry

__all__ = ["DRIVER_API_VERSION", "Driver", "DriverContext", "DriverRegistry", "default_registry"]
