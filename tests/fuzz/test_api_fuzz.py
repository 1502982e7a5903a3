"""Schemathesis against a real tegu-manager: no input may give a 5xx or an answer off the document.

Runs the ``st`` command line over the OpenAPI document the controller serves,
in both authentication modes, with every phase (examples, coverage,
fuzzing, stateful: links from a created reservation to reading, changing and
cancelling it), and both ways: the document's valid requests are not refused
and its invalid ones not accepted, so the document says exactly what the
server takes. The budget and seed are fixed so a CI run takes well under a
minute per mode and a failure can be replayed; ``TEGU_FUZZ_EXAMPLES`` raises
the budget for a longer hunt (the README gives the command).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from controller_process import ControllerProcess

HERE = Path(__file__).resolve().parent
STATIC = HERE.parents[1] / "conf" / "static-topology.json"
EXAMPLES = os.environ.get("TEGU_FUZZ_EXAMPLES", "60")
SEED = os.environ.get("TEGU_FUZZ_SEED", "20261129")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",  # what the document allows is not refused (400)
    "negative_data_rejection",  # what it forbids is not accepted
]
CONFIG = HERE / "schemathesis.toml"  # where the document cannot say what is refused, and why
TOKENS = {
    "fuzz-admin": {"tenant": "ops", "roles": ["admin"]},
    "fuzz-tenant": {"tenant": "acme", "roles": ["tenant"]},
}


@pytest.fixture(params=["none", "token"])
def controller(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControllerProcess]:
    options = {"static_topology": str(STATIC)}
    if request.param == "token":
        tokens = tmp_path / "tokens.json"
        tokens.write_text(json.dumps(TOKENS))
        options.update(auth_mode="token", token_file=str(tokens))
    process = ControllerProcess(tmp_path / "controller", options=options)
    process.start()
    yield process
    process.stop()


def test_no_generated_request_gets_a_5xx_or_an_answer_off_the_document(
    controller: ControllerProcess, tmp_path: Path
) -> None:
    token_mode = controller.options.get("auth_mode") == "token"
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{controller.url}/v1/openapi.json",
        "--checks",
        ",".join([*CHECKS, *(["ignored_auth"] if token_mode else [])]),
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--report",
        "ndjson",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    if token_mode:
        command += ["--header", "Authorization: Bearer fuzz-tenant"]
    result = subprocess.run(
        command,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
            "PYTHONPATH": str(HERE),
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, f"schemathesis found problems:\n{summary}\n{result.stderr}"
    assert "passed" in summary and "generated" in summary
    assert controller.process is not None and controller.process.poll() is None
    listed = requests.get(
        f"{controller.url}/v1/reservations?limit=10000",
        headers={"Authorization": "Bearer fuzz-admin"},
        timeout=10,
    )
    assert listed.status_code == 200
    if token_mode:  # as admin, the fuzzer may set every fence to 0 before it reserves anything
        assert listed.json()["reservations"], "the fuzzer never got a reservation admitted"
