"""What the CLI needs at run time ships inside the package (a wheel runs the demo)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_asset_the_demo_uses_is_package_data() -> None:
    from vhuman.app import ASSETS, DEMO_SHOW

    assert DEMO_SHOW.is_file() and ASSETS.is_relative_to(ROOT / "vhuman")
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["vhuman"]
    shipped = [p for p in ASSETS.rglob("*") if p.is_file() and p.suffix != ".py"]
    assert shipped, "no assets found"
    missing = [str(p.relative_to(ROOT)) for p in shipped
               if not any(fnmatch.fnmatch(str(p.relative_to(ROOT / "vhuman")), g.replace("**/", "*"))
                          for g in globs)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
    assert "py.typed" in globs and (ROOT / "vhuman" / "py.typed").exists()


def test_the_demo_show_names_only_files_inside_the_package() -> None:
    from vhuman.app import ASSETS, DEMO_SHOW
    from vhuman.scenes.show_loader import load_show

    show = load_show(DEMO_SHOW)
    for product in show.products.values():
        for image in product.images:
            assert Path(image).resolve().is_relative_to(ASSETS.resolve()), image
