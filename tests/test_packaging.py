"""Packaging: every package folder is listed in pyproject.toml, so a wheel (not only an
editable install) ships all of meanstest; kernels/ and adapters/ install under meanstest."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]


def test_every_package_folder_is_listed():
    config = _setuptools()
    found = set()
    for name, folder in config["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            if any(part.startswith(".") or part == "__pycache__" for part in rel):
                continue
            found.add(".".join((name, *rel)))
    # a folder mapped on its own (kernels, adapters) is found under its own name too
    assert found <= set(config["packages"]) | {"meanstest.kernels", "meanstest.adapters"}
    assert set(config["packages"]) <= found


def test_no_generic_top_level_module_names():
    config = _setuptools()
    assert all(p == "meanstest" or p.startswith("meanstest.") for p in config["packages"])
    assert config["package-dir"]["meanstest.kernels"] == "kernels"
    assert config["package-dir"]["meanstest.adapters"] == "adapters"
