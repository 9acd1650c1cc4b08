"""The public surface is small, explicit and typed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import fastapi_testbed


def test_all_names_exist_and_nothing_else_is_public() -> None:
    for name in fastapi_testbed.__all__:  # imported on first use
        getattr(fastapi_testbed, name)
    public = {name for name in vars(fastapi_testbed) if not name.startswith("_")} - {"annotations"}
    modules = {name for name in public if isinstance(getattr(fastapi_testbed, name), type(sys))}
    assert public - modules == set(fastapi_testbed.__all__)
    for name in fastapi_testbed.__all__:
        assert getattr(fastapi_testbed, name).__module__.startswith("fastapi_testbed.")


def test_package_is_typed() -> None:
    assert (Path(fastapi_testbed.__file__).parent / "py.typed").is_file()


def test_plugin_module_declares_only() -> None:
    plugin = importlib.import_module("fastapi_testbed.plugin")
    hooks = [name for name in vars(plugin) if name.startswith("pytest_")]
    assert set(hooks) >= {
        "pytest_addoption",
        "pytest_load_initial_conftests",
        "pytest_report_header",
    }
