"""Registers the drivers that ship with vhuman."""

from __future__ import annotations

from vhuman.drivers.registry import DriverRegistry


def register_builtins(reg: DriverRegistry) -> None:
    from vhuman.drivers.idle import IdleDriver

    reg.register("idle", IdleDriver, origin="builtin")
