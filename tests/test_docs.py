"""Every command has help, the README's command reference names every command, and its map of
modules names every module."""

from __future__ import annotations

import re
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


def test_the_readme_map_names_every_module_and_no_module_that_is_gone():
    package = Path(__file__).resolve().parent.parent / "ingest"
    section = README[README.index("## How it works"):]
    modules = {p.relative_to(package).as_posix() for p in package.rglob("*.py")
               if "migrations" not in p.parts and p.name not in ("__init__.py", "__main__.py")}
    for module in sorted(modules):
        name = module.rsplit("/", 1)[-1]
        assert name in section, f"ingest/{module} is missing from the README's map (## How it works)"
    named = set(re.findall(r"\b([a-z_]+\.py)\b", section))
    gone = {n for n in named if not any(m.endswith(n) for m in modules)}
    assert not gone, f"the README's map names modules that do not exist: {sorted(gone)}"
