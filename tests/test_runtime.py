"""ingest.runtime: the Run every command works with, built by open_run, and a refreshed model that
is the one guessing afterwards (never the model the run first saw)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from ingest.config import Settings
from ingest.fetch import FetchClient, Fetcher
from ingest.politeness import PoliteFetcher
from ingest.prepare import POOL_MIN_ITEMS, PageInput
from ingest.runtime import open_run, refresh_model

LAB = "https://lab.example.net/notes/"
TODAY = date(2025, 3, 1)


def lab_note(n: int, domain: str) -> str:
    return (f'---\ntype: source\ntitle: "Widget field notes {n}"\nauthor: "Widget Lab"\nurl: {LAB}{n}\n'
            f"date: 2025-01-0{n}\ndomain: {domain}\nsecondary_domains: []\nformat: report\nstatus: processed\n"
            f"tags: [spindle-widgets, widget-lab]\n---\n\n## Content\n\n"
            f"Field notes number {n}: the spindle widgets were counted again and the widget lab logged "
            f"results for the spindle widgets programme.\n")


def label_archive(folder: Path, domain: str, mtime: int) -> None:
    """The curators' archive: four notes from the widget lab, all of `domain`."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 5):
        path = folder / f"lab-{n}.md"
        path.write_text(lab_note(n, domain), encoding="utf-8")
        os.utime(path, (mtime, mtime))  # the archive's digest sees a change even within one second


WIDGET_PAGE = PageInput(LAB + "99", html=(
    "<html><head><title>Widget field notes 99</title></head><body><article><h1>Widget field notes 99</h1>"
    + "<p>More field notes: the spindle widgets were counted once more this week, and the widget lab "
      "logged the results for the spindle widgets programme again.</p>" * 4
    + "</article></body></html>"))


@pytest.fixture
def settings(tmp_path) -> Settings:
    label_archive(tmp_path / "vault", "space-development", 1_700_000_000)
    return Settings(archive_dir=tmp_path / "vault", output_dir=tmp_path / "seeds",
                    ledger=str(tmp_path / "state" / "ledger.db"))


def test_a_refreshed_model_is_the_one_that_guesses(settings):
    with open_run(settings, dry_run=False, force=False) as run:
        run, learned = refresh_model(run)
        assert learned.relearned and learned.notes == 4
        assert run.prepare(WIDGET_PAGE, TODAY, None, None).guess.domain == "space-development"
        label_archive(settings.archive_dir, "health", 1_700_000_100)  # the curators relabel their notes
        newer, learned = refresh_model(run)
        assert learned.relearned and newer is not run
        assert newer.prepare(WIDGET_PAGE, TODAY, None, None).guess.domain == "health"


def test_an_unchanged_archive_keeps_the_run_and_its_preparer(settings):
    with open_run(settings, dry_run=False, force=False) as run:
        run, _ = refresh_model(run)
        preparer = run.prepare
        again, learned = refresh_model(run)  # the model loaded again from its file, as each tick does
        assert not learned.relearned
        assert again is run and again.prepare is preparer


def test_worker_processes_started_with_the_old_model_are_stopped(settings):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("worker processes are only started on a machine with two cores or more")
    with open_run(settings, dry_run=False, force=False) as run:
        run, _ = refresh_model(run)
        old = run.prepare
        old.start_pool(POOL_MIN_ITEMS)
        assert old.pool is not None
        assert old(WIDGET_PAGE, TODAY, None, None).guess.domain == "space-development"
        label_archive(settings.archive_dir, "health", 1_700_000_100)
        run, _ = refresh_model(run)
        assert old.pool is None  # the next batch starts workers that get the new model
        run.prepare.start_pool(POOL_MIN_ITEMS)
        assert run.prepare.pool is not None
        assert run.prepare(WIDGET_PAGE, TODAY, None, None).guess.domain == "health"
    assert run.prepare.pool is None  # closed with the run


def test_open_run_builds_what_it_is_asked_for(settings):
    with open_run(settings, dry_run=True, force=True, explain=True) as run:
        assert (run.dry_run, run.force, run.explain) == (True, True, True)
        assert isinstance(run.fetcher, PoliteFetcher) and run.fetcher.store is None  # a dry run keeps no robots.txt
        assert run.model.empty  # until refresh_model
    assert not (Path(settings.ledger).parent).exists()  # a dry run creates no ledger


def test_the_fetchers_are_fetch_clients():
    with Fetcher(Settings()) as fetcher, PoliteFetcher(Fetcher(Settings()), Settings()) as polite:
        assert isinstance(fetcher, FetchClient) and isinstance(polite, FetchClient)
