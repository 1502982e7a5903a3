"""Switch-integration tier: a private dummy-datapath ovs-vswitchd and a real tegu-manager."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from privateovs import PrivateOvs

pytestmark = pytest.mark.ovs


@pytest.fixture(scope="session")
def ovs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateOvs]:
    if shutil.which("ovs-vswitchd") is None or os.geteuid() != 0:
        pytest.skip("needs root and Open vSwitch (tools/setup installs it)")
    instance = PrivateOvs(tmp_path_factory.mktemp("ovs"))
    instance.start()
    yield instance
    instance.stop()
