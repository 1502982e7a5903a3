"""The front door: README.rst is valid reStructuredText and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import docutils.core

ROOT = Path(__file__).resolve().parents[2]


def test_readme_renders_without_warnings() -> None:
    source = (ROOT / "README.rst").read_text()
    docutils.core.publish_doctree(
        source, settings_overrides={"report_level": 2, "halt_level": 2, "warning_stream": False}
    )


def test_the_two_commands_and_every_tool_it_names_exist() -> None:
    text = (ROOT / "README.rst").read_text()
    assert "\n    tools/demo\n" in text and "\n    tools/test\n" in text
    for tool in sorted(set(re.findall(r"tools/[\w.-]+", text))):
        assert (ROOT / tool).exists(), f"README names {tool}, which does not exist"
