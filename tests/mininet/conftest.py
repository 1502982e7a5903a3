"""Emulated-network tier: mininet on the system Open vSwitch (userspace datapath)."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/mininet/" in str(item.fspath):
            item.add_marker(pytest.mark.mininet)


@pytest.fixture(scope="session", autouse=True)
def _needs_mininet() -> None:
    if os.geteuid() != 0 or shutil.which("mn") is None or shutil.which("ovs-vsctl") is None:
        pytest.skip("needs root, mininet and Open vSwitch (tools/setup installs them)")
