"""Command line: flags → settings → library calls; every IngestError becomes one line and an exit code.

Exit codes: 0 all done, 1 some item failed, 2 usage or configuration error, 128 + the signal
when Ctrl-C (130) or SIGTERM (143) stopped it. This module holds the command group and what
every command shares; the commands live beside it (ingesting, sources, maintenance) and the
terminal output in report.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import click

from .. import __version__
from ..errors import ConfigError, IngestError


class Fatal(click.ClickException):
    """A whole-command error (config, ledger, output folder): one line on stderr."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"ingest: {self.message}", err=True)


class Commands(click.Group):
    """The command group. Ctrl-C where a command has not taken it over itself (reading URLs from
    stdin, the archive, learning, doctor…) ends the command at once, as one line and exit 130;
    click would say "Aborted!" and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("ingest: interrupted", err=True)
            raise click.exceptions.Exit(128 + signal.SIGINT) from None


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar="INGEST_CONFIG",
              help="Settings file (default: ./config/ingest.toml).")
@click.version_option(__version__, prog_name="ingest")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Archive research sources as Markdown source notes with `status: unprocessed`."""
    ctx.obj = {"config": config_path}
    _limit_malloc_arenas()


def _limit_malloc_arenas() -> None:
    """glibc gives each thread its own heap arena, and a long poll's threads each keep freed page
    buffers in theirs: two arenas cut the resident memory of a 3,000-article poll by a quarter."""
    if sys.platform.startswith("linux") and "MALLOC_ARENA_MAX" not in os.environ:
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
        except (OSError, AttributeError):
            pass


def settings_from(ctx: click.Context, **overrides):
    """The settings for this command: the file given by --config, the environment, then `overrides`."""
    from ..config import load_settings

    try:
        return load_settings(ctx.obj["config"], overrides=overrides)
    except ConfigError as exc:
        raise Fatal(exc.message) from None


@contextlib.contextmanager
def run_for(settings, *, dry_run: bool, force: bool, explain: bool = False):
    """runtime.open_run, its errors while opening a whole-command error."""
    from ..runtime import open_run

    with contextlib.ExitStack() as stack:
        yield guard(lambda: stack.enter_context(open_run(settings, dry_run=dry_run, force=force, explain=explain)))


def ledger_for(settings, *, create: bool = True):
    """The ledger alone, for the commands that neither fetch nor guess."""
    from ..ledger import open_ledger

    return guard(lambda: open_ledger(settings.ledger_url, create=create, wait=settings.ledger_wait))


def guard(call):
    """Run `call`; an IngestError that concerns the whole command ends it with exit code 2."""
    try:
        return call()
    except IngestError as exc:
        raise Fatal(exc.message) from None


def read_sources(settings):
    """The sources file's sources; an IngestError when it is unsound."""
    from ..sources import load_sources

    return load_sources(settings.sources_path, domains=settings.domains, formats=settings.formats)


def configured_sources(settings):
    """The sources file's sources; a whole-command error when it is unsound."""
    return guard(lambda: read_sources(settings))


def with_current_model(run):
    """The run with the guesser's current model, said on stderr when it was learned again."""
    from ..runtime import refresh_model
    from .report import report_learned

    run, learned = refresh_model(run)
    report_learned(run, learned)
    return run


# imported for what importing does: each command module registers its commands on `main`
from . import ingesting, maintenance, sources  # noqa: E402, F401

__all__ = ["Fatal", "main"]
