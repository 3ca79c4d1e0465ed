"""ingest.learn over real folders of notes: reading old and new notes, learning changing a guess,
the saved model and its refresh, `ingest learn` and `ingest url --explain`."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from conftest import bench_module, require_corpus
from ingest.config import Settings
from ingest.guess import guess
from ingest.learn import (_idf, _idf_without, content_of, ensure_model, learn, load_model, read_archive,
                          read_note)
from ingest.learned_model import Model
from ingest.records import Document
from ingest.tags import TAG_FEATURES
from ingest.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
LAB = "https://lab.example.net/notes/"


def note(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def lab_note(n: int, domain: str = "space-development", fmt: str = "report") -> str:
    return (f'---\ntype: source\ntitle: "Widget field notes {n}"\nauthor: "Widget Lab"\nurl: {LAB}{n}\n'
            f"date: 2025-01-0{n}\ndomain: {domain}\nsecondary_domains: []\nformat: {fmt}\nstatus: processed\n"
            f"tags: [spindle-widgets, widget-lab, field-notes]\n---\n\n## Content\n\n"
            f"Field notes number {n}: the spindle widgets were counted again and the widget lab logged "
            f"results for the spindle widgets programme.\n\n## Agent Notes\n\n**Why this matters:** secret words\n")


@pytest.fixture
def vault(tmp_path) -> Path:
    folder = tmp_path / "vault"
    for n in range(1, 5):
        note(folder, f"lab-{n}.md", lab_note(n))
    note(folder, "broken.md", '---\ntitle: "unclosed\ntags: [a, b\n---\n\nbody\n')
    note(folder, "README.md", "# The archive\n\nNotes by hand.\n")
    return folder


def widget_page() -> Document:
    url = LAB + "99"
    return Document(url=url, canonical_url=url, title="Widget field notes 99",
                    text="More field notes: the spindle widgets were counted once more this week.")


def test_older_notes_and_their_field_names_are_read(tmp_path):
    path = note(tmp_path, "old.md",
                '---\nsource_type: "article"\ntitle: "The Creator Economy"\nauthor: "Doug Shapiro"\n'
                'source: "https://dougshapiro.substack.com/p/creator-economy"\ndate_published: "2023-06-01"\n'
                'domain: "entertainment"\nstatus: "processed"\ntags: "creators, media"\n---\n'
                "# Pasted page\n\nThe page text.\n\n## Key Facts\n\n- written by an agent\n")
    old, problem = read_note(path)
    assert problem is None
    assert (old.url, old.domain, old.format, old.tags) == (
        "https://dougshapiro.substack.com/p/creator-economy", "entertainment", "article", ("creators", "media"))
    assert old.text == "# Pasted page\n\nThe page text." and not old.has_content_section
    site = note(tmp_path, "site.md", "---\nsource: Noahopinion (Substack)\ndate: 2026-00-00\ndomain: ai-alignment\n---\nx\n")
    named, _ = read_note(site)
    assert (named.url, named.site) == ("", "Noahopinion (Substack)")


def test_only_the_content_section_is_what_the_page_gave():
    text, has_section = content_of("## Proposal Details\n- generated\n\n## Content\n\nThe text.\n\n## Agent Notes\n\nours\n")
    assert (text, has_section) == ("The text.", True)


def test_malformed_notes_are_skipped_with_a_warning(vault):
    notes, problems = read_archive(vault)
    assert sorted(Path(n.path).name for n in notes) == ["lab-1.md", "lab-2.md", "lab-3.md", "lab-4.md"]
    [problem] = problems
    assert problem.startswith("skipped malformed note") and "broken.md" in problem


def test_learning_from_a_small_archive_changes_the_guess(vault):
    settings = Settings()
    before = guess(widget_page(), settings, taxonomy=TAXONOMY)
    assert before.domain == settings.default_domain and before.format == settings.default_format
    assert "widget-lab" not in before.tags
    notes, _ = read_archive(vault)
    model = learn(notes, TAXONOMY, settings)
    after = guess(widget_page(), settings, taxonomy=TAXONOMY, model=model)
    assert after.domain == "space-development"
    assert after.format == "report"
    assert {"spindle-widgets", "widget-lab", "field-notes"} <= set(after.tags)
    assert any("host lab.example.net: 4 of 4 archived notes are space-development" in r for r in after.reasons["domain"])
    assert all("secret" not in t for t in after.tags)  # agent notes are not what a page says


def test_the_vault_format_values_become_guessable(vault, tmp_path):
    for n in range(1, 5):
        note(vault, f"lab-{n}.md", lab_note(n, fmt="article"))
    notes, _ = read_archive(vault)
    model = learn(notes, TAXONOMY, Settings())
    assert model.formats == {"article": 4}
    assert guess(widget_page(), Settings(), taxonomy=TAXONOMY, model=model).format == "article"


def test_the_model_is_saved_reused_and_relearned_when_the_archive_changes(vault, tmp_path):
    settings = Settings(archive_dir=vault, model=tmp_path / "state" / "model.json")
    first = ensure_model(settings, TAXONOMY)
    assert first.relearned and first.notes == 4 and settings.model.is_file()
    assert first.problems and "broken.md" in first.problems[0]
    again = ensure_model(settings, TAXONOMY)
    assert not again.relearned and again.model.fingerprint == first.model.fingerprint
    path = note(vault, "lab-5.md", lab_note(5, domain="health"))
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    changed = ensure_model(settings, TAXONOMY)
    assert changed.relearned and changed.notes == 5
    assert load_model(settings.model).fingerprint == changed.model.fingerprint


def test_a_dry_run_learns_without_saving(vault, tmp_path):
    settings = Settings(archive_dir=vault, model=tmp_path / "model.json")
    assert ensure_model(settings, TAXONOMY, save=False).notes == 4
    assert not settings.model.exists()


def test_a_broken_model_file_is_relearned(vault, tmp_path):
    settings = Settings(archive_dir=vault, model=tmp_path / "model.json")
    settings.model.write_text("{not json", encoding="utf-8")
    assert ensure_model(settings, TAXONOMY).relearned
    assert load_model(settings.model) is not None


def test_a_model_saved_by_an_older_version_is_relearned(vault, tmp_path):
    settings = Settings(archive_dir=vault, model=tmp_path / "model.json")
    first = ensure_model(settings, TAXONOMY)
    data = json.loads(settings.model.read_text(encoding="utf-8"))
    data["version"] = 1  # before the per-format biases and the tempered genre posterior
    settings.model.write_text(json.dumps(data), encoding="utf-8")
    assert load_model(settings.model) is None
    again = ensure_model(settings, TAXONOMY)
    assert again.relearned and again.model.fingerprint == first.model.fingerprint


def test_without_an_archive_the_guesser_works_from_the_taxonomy(tmp_path):
    learned = ensure_model(Settings(model=tmp_path / "model.json"), TAXONOMY)
    assert learned.model.empty and not learned.relearned


def test_a_note_learned_from_weighs_its_own_words_as_a_new_page_would():
    df = Counter({"shared": 5, "pair": 2, "own": 1})
    loo = _idf_without(Counter(["shared", "pair", "own"]), df, 10)
    assert loo["own"] == loo["pair"] == _idf(1, 10)  # in no other note, or in one: the default, as new
    assert loo["shared"] == _idf(4, 10) < _idf(1, 10)


def test_how_many_tags_to_pick_is_learned_and_saved_with_the_model(vault):
    notes, _ = read_archive(vault)
    model = learn(notes, TAXONOMY, Settings())
    reloaded = Model.from_json(model.to_json())
    assert (reloaded.tag_threshold, reloaded.tag_expected) == (model.tag_threshold, model.tag_expected)
    assert 0 <= model.tag_threshold < 1 and model.tag_expected >= 0


def test_tag_weights_are_saved_by_position_one_per_feature_after_the_bias(vault):
    notes, _ = read_archive(vault)
    model = learn(notes, TAXONOMY, Settings())
    assert len(model.tag_weights) == 1 + len(TAG_FEATURES)
    assert json.loads(model.to_json())["tag_weights"] == model.tag_weights  # a plain list, as in version 5
    assert Model.from_json(model.to_json()).tag_weights == model.tag_weights


def test_the_saved_model_guesses_as_the_learned_one(vault, tmp_path):
    notes, _ = read_archive(vault)
    model = learn(notes, TAXONOMY, Settings())
    reloaded = Model.from_json(model.to_json())
    assert guess(widget_page(), Settings(), taxonomy=TAXONOMY, model=reloaded) == \
        guess(widget_page(), Settings(), taxonomy=TAXONOMY, model=model)


def test_learn_command(cli, vault):
    result = cli("learn", str(vault))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("learned from 4 labelled note(s) in ")
    assert "domains: space-development 4" in result.stdout
    assert "warning: skipped malformed note" in result.stderr and "broken.md" in result.stderr
    assert (cli.root / "state" / "model.json").is_file()
    assert cli("learn", str(vault)).stdout.startswith("up to date: 4 labelled note(s)")
    assert cli("learn", "--force", str(vault)).stdout.startswith("learned from 4")


def test_learn_command_needs_an_archive(cli):
    result = cli("learn")
    assert result.exit_code == 2
    assert "give the ARCHIVE folder" in result.stderr


def test_url_explain_shows_the_signals_and_uses_the_archive(cli, serve, vault):
    cfg = cli.root / "config" / "ingest.toml"
    cfg.write_text(cfg.read_text() + f'archive_dir = "{vault}"\n')
    url = serve("/blog/post", "v8-blog.html")
    result = cli("url", "--dry-run", "--explain", url)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("---\ntype: source\n")
    assert "learned the guesser from 4 archived note(s)" in result.stderr
    for field in ("domain", "secondary_domains", "format", "priority", "tags"):
        assert f"\n  {field}: " in result.stderr
    assert not (cli.root / "state" / "model.json").exists(), "a dry run saves nothing"
    [line] = cli("url", "--json", "--explain", url).stdout.splitlines()
    record = json.loads(line)
    assert record["status"] == "created"
    assert set(record["explain"]) == {"domain", "secondary_domains", "format", "priority", "tags"}
    assert record["explain"]["format"]["signals"]
    assert (cli.root / "state" / "model.json").is_file()


ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = Path(os.environ.get("INGEST_GUESS_CORPUS", ROOT.parent / "shared" / "corpus" / "kb-archive"))
# pinned below the figures measured when they were set (README, "Guesses"); raise them when the
# guesser gets better, never lower them to make a change pass
FLOORS = {"domain_accuracy": 0.92, "format_accuracy": 0.76, "tag_f1": 0.38, "tag_f1_normalized": 0.40}


@pytest.mark.slow
def test_guess_quality_stays_above_its_floors():
    require_corpus(ARCHIVE, "archive corpus")
    figures = bench_module("guess_eval").evaluate(ARCHIVE)[0]["non_data"]
    below = {k: (figures[k], floor) for k, floor in FLOORS.items() if figures[k] < floor}
    assert not below, f"guess figures fell below their floors (got, floor): {below}"
    assert figures["ms_median"] < 20
