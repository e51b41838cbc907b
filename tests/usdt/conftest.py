"""The USDT test targets, built once per session at -O0 (arguments in stack memory) and -O2
(arguments in registers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.usdt.targets import build


@pytest.fixture(scope="session", params=["-O0", "-O2"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, Path]:
    """(program, shared library)"""
    return build(tmp_path_factory.mktemp(f"usdt{request.param}"), request.param)


@pytest.fixture(scope="session")
def built_o2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("usdt-O2only"), "-O2")
