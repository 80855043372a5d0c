"""Driver registry: explicit registration, options checking, entry points."""

import pytest

from vhuman.drivers.registry import DriverRegistry, default_registry, parse_driver_spec
from vhuman.core.errors import ConfigError


class Dummy:
    name = "dummy"
    priority = 5

    def __init__(self, speed: float = 1.0, label: str = "x"):
        self.speed = float(speed)


def test_register_and_create_with_options():
    reg = DriverRegistry(group="vhuman.tests.none")
    reg.register("dummy", Dummy)
    d = reg.create("dummy", speed="2.5")
    assert d.speed == 2.5


def test_unknown_option_lists_valid_ones():
    reg = DriverRegistry(group="vhuman.tests.none")
    reg.register("dummy", Dummy)
    with pytest.raises(ConfigError, match="valid options: speed, label"):
        reg.create("dummy", sped="2")


def test_unknown_driver_lists_installed():
    with pytest.raises(ConfigError, match="installed drivers: .*idle"):
        default_registry().create("nope")


@pytest.mark.parametrize("spec,expected", [
    ("idle", ("idle", {})),
    ("livelink:port=11111,host=0.0.0.0", ("livelink", {"port": "11111", "host": "0.0.0.0"})),
])
def test_parse_driver_spec(spec, expected):
    assert parse_driver_spec(spec) == expected


@pytest.mark.parametrize("spec", [":x=1", "name:novalue", "name:=3"])
def test_bad_driver_specs(spec):
    with pytest.raises(ConfigError):
        parse_driver_spec(spec)
