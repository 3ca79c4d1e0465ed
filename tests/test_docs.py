"""Every command has help, and the README's command reference names every command."""

from __future__ import annotations

from pathlib import Path

import click

from ingest.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "ingest"):
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix} {name}")


def test_every_command_has_help_and_is_in_the_readme():
    found = list(commands(main))
    assert len(found) >= 12
    for path, command in found:
        assert (command.help or "").strip(), f"{path} has no help"
        assert path in README, f"{path} is missing from the README's command reference"


def test_every_option_of_url_and_poll_is_in_the_readme():
    for name in ("url", "poll"):
        for param in main.commands[name].params:
            if isinstance(param, click.Option) and param.name not in ("help",):
                assert any(opt in README for opt in param.opts), f"ingest {name} {param.opts} not in the README"
