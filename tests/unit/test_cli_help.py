"""``tegu --help`` and every command's help read as plain text, with whole first sentences."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from tegu_ryu.cli.main import cli


def test_help_is_plain_text_and_each_command_s_summary_is_a_whole_sentence() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    pages = {"tegu": top.output}
    for name in cli.commands:
        page = runner.invoke(cli, [name, "--help"])
        assert page.exit_code == 0, name
        pages[name] = page.output
    for name, text in pages.items():
        assert "``" not in text and not re.search(r"`[^`]+`", text), name  # no RST markup
    for name, command in cli.commands.items():
        summary = command.get_short_help_str(limit=200)
        assert isinstance(command, click.Command)
        assert summary.count("(") == summary.count(")"), (name, summary)  # not cut inside one
        assert not summary.endswith(("e.g.", "i.e.")), (name, summary)
