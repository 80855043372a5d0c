"""Discovery: installed plugins are found through entry points; broken ones are reported.

An import-broken plugin is listed as failed while the rest load, and the CLI shows it all.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vhuman.drivers.registry import DriverRegistry, parse_driver_spec
from vhuman.core.errors import ConfigError
from vhuman.plugins import CHAT_GROUP, DRIVERS_GROUP, TTS_GROUP, ChatSource, list_plugins


def test_installed_template_is_found_and_created_from_a_driver_spec(plugin_path, tmp_path):
    reg = DriverRegistry()
    info = reg.info("nod")
    assert info is not None and info.loaded, info
    assert info.origin == "vhuman-nod"
    name, options = parse_driver_spec(f"nod:keyword=buy,path={tmp_path / 'cues.txt'}")
    driver = reg.create(name, **options)
    assert type(driver).__module__.startswith("vhuman_nod")
    assert driver.keyword == "buy"


def test_unknown_option_names_the_valid_ones(plugin_path):
    with pytest.raises(ConfigError) as err:
        DriverRegistry().create("nod", colour="red")
    msg = str(err.value)
    assert "'colour'" in msg and "keyword" in msg and "path" in msg


def test_broken_plugin_is_listed_failed_and_the_others_still_load(plugin_path):
    regs = {g: DriverRegistry(g) for g in (DRIVERS_GROUP, TTS_GROUP, CHAT_GROUP)}
    rows = {(r.group, r.name): r for r in list_plugins(registries=regs)}
    broken = rows[(DRIVERS_GROUP, "broken")]
    assert broken.status == "failed"
    assert "ImportError" in broken.error and "libfoo 2.0" in broken.error
    assert broken.origin == "vhuman-testplugins" and broken.version == "0.3.0"
    for name in ("nod", "raiser", "sleeper", "nan"):
        assert rows[(DRIVERS_GROUP, name)].status == "loaded", rows[(DRIVERS_GROUP, name)]
    assert rows[(DRIVERS_GROUP, "nod")].version == "0.1.0"
    assert rows[(DRIVERS_GROUP, "nod")].target == "vhuman_nod:NodDriver"
    # "where from": the code that was loaded, and the metadata of the one that was not
    assert rows[(DRIVERS_GROUP, "nod")].location.startswith(plugin_path[0])
    assert broken.location.endswith("vhuman_testplugins-0.3.0.dist-info")
    assert rows[(CHAT_GROUP, "echo")].status == "loaded"
    assert rows[(TTS_GROUP, "silent")].status == "loaded"
    # Asking for the broken one says why instead of a traceback from deep inside.
    with pytest.raises(ConfigError, match="libfoo"):
        regs[DRIVERS_GROUP].create("broken")


def test_chat_plugin_yields_user_text_ts_messages(fake_path):
    reg = DriverRegistry(CHAT_GROUP)
    source = reg.create("echo", lines="hi|how much is it?")
    assert isinstance(source, ChatSource)

    async def collect():
        return [m async for m in source.messages()]

    msgs = asyncio.run(collect())
    assert [m["text"] for m in msgs] == ["hi", "how much is it?"]
    assert all(set(m) == {"user", "text", "ts"} for m in msgs)


def test_cli_lists_builtins_installed_template_and_failures(plugin_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*plugin_path, env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "vhuman.cli", "plugins", "list", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {(r["group"], r["name"]): r for r in json.loads(proc.stdout)}
    assert rows[(DRIVERS_GROUP, "idle")]["origin"] == "builtin"
    assert rows[(DRIVERS_GROUP, "nod")]["origin"] == "vhuman-nod"
    assert rows[(DRIVERS_GROUP, "nod")]["status"] == "loaded"
    assert rows[(DRIVERS_GROUP, "broken")]["status"] == "failed"

    table = subprocess.run([sys.executable, "-m", "vhuman.cli", "plugins", "list"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    nod_line = next(line for line in lines if " nod " in line)
    assert "loaded" in nod_line and "vhuman-nod 0.1.0" in nod_line
    assert any("error: ImportError" in line and "libfoo" in line for line in lines)
    assert "failed to load" in lines[-1]


@pytest.mark.slow
def test_the_template_passes_its_own_tests_when_installed(template_site, tmp_path):
    """What a plugin author runs after installing the template, here against the pip copy."""
    tests = Path(__file__).resolve().parents[2] / "examples" / "plugin-template" / "tests"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(template_site), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tests)],
                          capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout  # entry point found too
