"""ingest.config.load_settings: defaults < file < INGEST_* environment < overrides, and clear errors."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from ingest.config import DEFAULT_FORMATS, KEYS, Settings, load_settings
from ingest.errors import ConfigError
from ingest.sources import load_sources
from ingest.taxonomy import load_taxonomy


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """The current folder: somewhere other than the config file's folder, with no config/ in it."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def config(tmp_path):
    """write(text) → path of tmp/vault/config/ingest.toml holding `text`."""

    def write(text: str) -> Path:
        path = tmp_path / "vault" / "config" / "ingest.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_defaults_without_a_file(elsewhere):
    s = load_settings(env={})
    assert s == Settings()
    assert s.config_path is None
    assert s.timeout == 15.0 and s.retries == 2 and s.allow_private_networks is False
    assert s.formats == DEFAULT_FORMATS
    assert s.default_priority == "medium"
    assert s.ledger_url == f"sqlite:///{(elsewhere / 'ledger.db').resolve()}"


def test_default_config_in_cwd_is_read(elsewhere):
    (elsewhere / "config").mkdir()
    (elsewhere / "config" / "ingest.toml").write_text("retries = 7\n")
    s = load_settings(env={})
    assert s.retries == 7
    assert s.config_path == Path("config") / "ingest.toml"


def test_file_values_are_read(elsewhere, config):
    path = config(
        'timeout = 3.5\nretries = 0\nallow_private_networks = true\nmax_bytes = 1_000\n'
        'domains = ["ai-alignment", "internet-finance"]\ndefault_domain = "internet-finance"\n'
        'default_tags = ["research"]\ncontact_url = "https://example.org/contact"\n'
    )
    s = load_settings(path, env={})
    assert s.config_path == path
    assert (s.timeout, s.retries, s.allow_private_networks, s.max_bytes) == (3.5, 0, True, 1000)
    assert s.domains == ("ai-alignment", "internet-finance")
    assert s.default_domain == "internet-finance"
    assert s.default_tags == ("research",)
    assert "https://example.org/contact" in s.agent


def test_relative_paths_are_resolved_against_the_config_folder(elsewhere, config, tmp_path):
    path = config(
        'output_dir = "../seeds"\nledger = "../state/ledger.db"\narchive_dir = "archive"\n'
        'template = "../templates/note.md.j2"\n'
    )
    vault = tmp_path / "vault"
    s = load_settings(path, env={})
    assert s.output_dir == (vault / "seeds").resolve()
    assert s.archive_dir == (vault / "config" / "archive").resolve()
    assert s.template == (vault / "templates" / "note.md.j2").resolve()
    assert s.ledger == str((vault / "state" / "ledger.db").resolve())
    assert s.ledger_url == f"sqlite:///{(vault / 'state' / 'ledger.db').resolve()}"
    for p in (s.output_dir, s.archive_dir, s.template):
        assert p.is_absolute()


def test_config_given_relative_to_cwd(elsewhere, config, tmp_path):
    config('output_dir = "out"\n')
    s = load_settings(Path("..") / "vault" / "config" / "ingest.toml", env={})
    assert s.output_dir == (tmp_path / "vault" / "config" / "out").resolve()


def test_absolute_and_home_paths(elsewhere, config, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = config(f'output_dir = "{tmp_path / "abs"}"\narchive_dir = "~/archive"\n')
    s = load_settings(path, env={})
    assert s.output_dir == tmp_path / "abs"
    assert s.archive_dir == tmp_path / "home" / "archive"


def test_empty_archive_dir_means_none(elsewhere, config):
    assert load_settings(config('archive_dir = ""\n'), env={}).archive_dir is None


def test_environment_overrides_file_with_parsing(elsewhere, config):
    path = config("timeout = 3.0\nretries = 1\nallow_private_networks = true\n")
    env = {
        "INGEST_TIMEOUT": "7.25",
        "INGEST_RETRIES": "4",
        "INGEST_ALLOW_PRIVATE_NETWORKS": "off",
        "INGEST_DOMAINS": " ai-alignment , collective-intelligence ,, ",
        "INGEST_DEFAULT_TAGS": "",
        "INGEST_MAX_BYTES": "2000",
        "INGEST_USER_AGENT": "test-agent/{version}",
        "HOME": "/nowhere",  # not ours: ignored
    }
    s = load_settings(path, env=env)
    assert s.timeout == 7.25
    assert s.retries == 4
    assert s.allow_private_networks is False
    assert s.domains == ("ai-alignment", "collective-intelligence")
    assert s.default_tags == ()
    assert s.max_bytes == 2000
    assert s.agent.startswith("test-agent/")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("FALSE", False), ("no", False),
     ("off", False)],
)
def test_environment_booleans(elsewhere, raw, expected):
    assert load_settings(env={"INGEST_ALLOW_PRIVATE_NETWORKS": raw}).allow_private_networks is expected


@pytest.mark.parametrize(
    ("name", "raw", "want"),
    [
        ("INGEST_ALLOW_PRIVATE_NETWORKS", "maybe", "true or false"),
        ("INGEST_RETRIES", "2.5", "a whole number"),
        ("INGEST_RETRIES", "two", "a whole number"),
        ("INGEST_TIMEOUT", "fast", "a number"),
        # out of range: the variable is named too, not the settings file
        ("INGEST_CONCURRENCY", "0", "key 'concurrency' must be a whole number from 1 to 1000, got '0'"),
        ("INGEST_TIMEOUT", "0", "key 'timeout' must be a number of seconds, more than 0 and at most 86400"),
        ("INGEST_HOST_DELAY", "nan", "key 'host_delay' must be a number of seconds from 0 to 86400 (1 day), got 'nan'"),
        ("INGEST_DEFAULT_PRIORITY", "urgent", "key 'default_priority' must be one of high, medium, low, got"),
        ("INGEST_USER_AGENT", "bot/{nope}", "key 'user_agent' must be a string whose only placeholders are"),
    ],
)
def test_bad_environment_values_name_the_variable(elsewhere, name, raw, want):
    with pytest.raises(ConfigError) as info:
        load_settings(env={name: raw})
    message = str(info.value)
    assert f"environment variable {name}" in message
    assert want in message
    assert repr(raw) in message


def test_environment_paths_are_relative_to_cwd(elsewhere, config):
    path = config('output_dir = "../seeds"\n')
    s = load_settings(path, env={"INGEST_OUTPUT_DIR": "here", "INGEST_LEDGER": "db/l.db"})
    assert s.output_dir == (elsewhere / "here").resolve()
    assert s.ledger == str((elsewhere / "db" / "l.db").resolve())


def test_ingest_config_variable_names_the_file(elsewhere, config):
    path = config("retries = 9\n")
    assert load_settings(env={"INGEST_CONFIG": str(path)}).retries == 9


def test_overrides_win_over_environment_and_file(elsewhere, config):
    path = config('timeout = 3.0\noutput_dir = "../seeds"\n')
    s = load_settings(
        path,
        env={"INGEST_TIMEOUT": "4.0", "INGEST_OUTPUT_DIR": "from-env"},
        overrides={"timeout": 5.0, "output_dir": "from-flag", "retries": None},
    )
    assert s.timeout == 5.0
    assert s.output_dir == (elsewhere / "from-flag").resolve()
    assert s.retries == 2  # None means "flag not given"


def test_unknown_key_names_file_key_and_allowed_keys(elsewhere, config):
    path = config('output_dir = "x"\nshiny = true\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert str(path) in message
    assert "'shiny'" in message
    assert "allowed keys are" in message
    for key in KEYS:
        assert key in message
    assert "config_path" not in message


def test_unknown_environment_key_is_named(elsewhere):
    with pytest.raises(ConfigError, match=r"environment variable INGEST_SHINY: unknown key 'shiny'"):
        load_settings(env={"INGEST_SHINY": "1"})


def test_toml_syntax_error_names_the_file(elsewhere, config):
    path = config('output_dir = "x\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    assert "not valid TOML" in str(info.value)


def test_non_utf8_file_is_a_config_error(elsewhere, config):
    path = config("")
    path.write_bytes(b'output_dir = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=str(path)):
        load_settings(path, env={})


@pytest.mark.parametrize(
    ("line", "key", "want"),
    [
        ('timeout = "fast"', "timeout", "a number"),
        ("retries = true", "retries", "a whole number"),
        ('retries = "many"', "retries", "a whole number"),
        ("allow_private_networks = 1", "allow_private_networks", "true or false"),
        ("domains = 3", "domains", "a list of strings"),
        ("domains = [1, 2]", "domains", "a list of strings"),
        ("output_dir = 5", "output_dir", "a string"),
        ("user_agent = [\"a\"]", "user_agent", "a string"),
        ("timeout = true", "timeout", "a number"),
    ],
)
def test_wrong_type_names_key_and_expected_type(elsewhere, config, line, key, want):
    path = config(line + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert f"must be {want}" in message


def test_fractional_number_for_a_whole_number_key_is_an_error(elsewhere, config):
    # `retries = 2.5` must not quietly become 2 (the environment's "2.5" is already refused)
    path = config("retries = 2.5\n")
    with pytest.raises(ConfigError, match=r"key 'retries' must be a whole number"):
        load_settings(path, env={})


def test_missing_config_file_given_explicitly(elsewhere, tmp_path):
    missing = tmp_path / "nope" / "ingest.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(missing, env={})
    assert str(missing) in str(info.value)
    assert "not found" in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(env={"INGEST_CONFIG": str(missing)})


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('default_priority = "urgent"', "default_priority"),
        ('default_format = "podcast"', "default_format"),
        ('default_domain = "cooking"', "default_domain"),
        ("timeout = 0", "timeout"),
        ("deadline = -1", "deadline"),
        ("retries = -1", "retries"),
        ('user_agent = "bot/{nope}"', "user_agent"),
    ],
)
def test_invalid_values_are_refused(elsewhere, config, text, key):
    path = config(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    assert f"key '{key}'" in str(info.value)


def test_default_priority_lists_the_choices(elsewhere):
    with pytest.raises(ConfigError, match="high, medium, low"):
        load_settings(env={"INGEST_DEFAULT_PRIORITY": "urgent"})
    for p in ("high", "medium", "low"):
        assert load_settings(env={"INGEST_DEFAULT_PRIORITY": p}).default_priority == p


def test_ledger_database_url_is_kept(elsewhere, config):
    url = "postgresql+psycopg://ingest@db.example.org/ingest"
    s = load_settings(config(f'ledger = "{url}"\n'), env={})
    assert s.ledger == url
    assert s.ledger_url == url
    s = load_settings(env={"INGEST_LEDGER": "postgresql://u@h/db"})
    assert s.ledger_url == "postgresql://u@h/db"


def test_ledger_url_for_a_plain_path(tmp_path):
    assert Settings(ledger=str(tmp_path / "l.db")).ledger_url == f"sqlite:///{tmp_path / 'l.db'}"


def test_every_setting_has_a_reader():
    assert set(KEYS) == {f.name for f in fields(Settings)} - {"config_path"}


# ---- one way to say it: ingest.toml, sources.toml and taxonomy.toml --------------------------------

SOURCE = '[[source]]\nname = "a"\nurl = "https://a.org/feed"\n'
LOADERS = {"ingest": lambda path: load_settings(path, env={}), "sources": load_sources, "taxonomy": load_taxonomy}


def _error(tmp_path: Path, which: str, text: str) -> str:
    path = tmp_path / f"{which}.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        LOADERS[which](path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message.removeprefix(f"{path}: ")


def test_the_three_files_name_an_unknown_key_alike(tmp_path):
    assert _error(tmp_path, "ingest", "obey_robot = true\n").startswith(
        "unknown key 'obey_robot' (did you mean 'obey_robots'?); allowed keys are: allow_private_networks, ")
    assert _error(tmp_path, "sources", SOURCE + 'evry = "2h"\n').startswith(
        "source 'a': unknown key 'evry' (did you mean 'every'?); allowed keys are: name, url, ")
    assert _error(tmp_path, "taxonomy", '[[domain]]\nname = "x"\nkeyword = ["a"]\n') == (
        "[[domain]] #1: unknown key 'keyword' (did you mean 'keywords'?); allowed keys are: "
        "name, description, keywords")
    assert _error(tmp_path, "taxonomy", "[tags]\nmni = 1\n").startswith("[tags]: unknown key 'mni' (did you mean 'min'?)")


def test_the_three_files_name_a_wrong_value_alike(tmp_path):
    assert _error(tmp_path, "ingest", "domains = [1]\n") == (
        """key 'domains' must be a list of strings, like ["…", "…"], got [1]""")
    assert _error(tmp_path, "sources", SOURCE + "tags = [1]\n") == (
        """source 'a': key 'tags' must be a list of tags, like ["…", "…"], got [1]""")
    assert _error(tmp_path, "taxonomy", '[[domain]]\nname = "x"\nkeywords = [1]\n') == (
        """[[domain]] #1 (x): key 'keywords' must be a list of strings, like ["…", "…"], got [1]""")
    assert _error(tmp_path, "ingest", "retries = -1\n") == "key 'retries' must be a whole number from 0 to 100, got -1"
    assert _error(tmp_path, "sources", SOURCE + "backfill = -1\n") == (
        "source 'a': key 'backfill' must be a whole number from 0 to 100000, got -1")
    assert _error(tmp_path, "taxonomy", "[tags]\nmin = -1\n") == (
        "[tags]: key 'min' must be a whole number from 0 to 100, got -1")


@pytest.mark.parametrize("which", ["ingest", "sources", "taxonomy"])
def test_the_three_files_refuse_text_that_is_not_utf8_alike(tmp_path, which):
    path = tmp_path / f"{which}.toml"
    path.write_bytes(b"# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        LOADERS[which](path)
    assert str(info.value) == f"{path}: not UTF-8 text (byte 0xe9 at offset 5); save the file as UTF-8"


def test_a_bare_string_is_a_list_of_one_in_every_file(tmp_path):
    config = tmp_path / "ingest.toml"
    config.write_text('default_tags = "ai"\n')
    assert load_settings(config, env={}).default_tags == ("ai",)
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCE + 'tags = "ai"\n')
    assert load_sources(sources)[0].defaults.tags == ("ai",)
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text('[[domain]]\nname = "x"\nkeywords = "ai safety"\n[tags]\ngeneric = "post"\n')
    loaded = load_taxonomy(taxonomy)
    assert loaded.domains[0].keywords == ("ai-safety",)
    assert loaded.generic_tags == {"post"}


# ---- every number is bounded; header text is ASCII; paths can be looked at -----------------------------

NUMBERS = sorted(f.name for f in fields(Settings)
                 if isinstance(getattr(Settings(), f.name), (int, float)) and not isinstance(getattr(Settings(), f.name), bool))


def test_the_number_settings_are_the_ones_checked_below():
    assert NUMBERS == ["backoff", "concurrency", "deadline", "host_delay", "item_retries", "ledger_wait",
                       "max_bytes", "max_interval", "max_redirects", "min_interval", "retries", "stale_after",
                       "tick", "timeout"]


@pytest.mark.parametrize("key", NUMBERS)
@pytest.mark.parametrize("huge", ["1e308", "99999999999999999999999"])
def test_every_number_setting_has_a_maximum(elsewhere, config, key, huge):
    # 1e308 seconds overflowed a date, a sleep, an SQL integer: refused where it is read, in every source
    path = config(f"{key} = {huge}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert message.startswith(f"{path}: key '{key}' must be a ")
    assert " to " in message or " at most " in message
    assert message.endswith(f", got {tomllib.loads(f'x = {huge}')['x']!r}")
    with pytest.raises(ConfigError, match=f"^environment variable INGEST_{key.upper()}: key '{key}' must be"):
        load_settings(env={f"INGEST_{key.upper()}": huge})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("host_delay = 1e308", "key 'host_delay' must be a number of seconds from 0 to 86400 (1 day), got 1e+308"),
        ("timeout = 86401", "key 'timeout' must be a number of seconds, more than 0 and at most 86400 (1 day), "
                            "got 86401"),
        ("max_interval = 31622400", "key 'max_interval' must be a number of seconds from 0 to 31536000 (365 days), "
                                    "got 31622400"),
        ("retries = 101", "key 'retries' must be a whole number from 0 to 100, got 101"),
        ("concurrency = 0", "key 'concurrency' must be a whole number from 1 to 1000, got 0"),
        ("max_bytes = 1e11", "key 'max_bytes' must be a whole number from 0 to 10000000000, got 100000000000.0"),
    ],
)
def test_a_number_out_of_range_says_the_range(elsewhere, config, line, message):
    path = config(line + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(info.value) == f"{path}: {message}"


def test_the_largest_values_are_allowed(elsewhere, config):
    s = load_settings(config("host_delay = 86400\nmax_interval = 31536000\nconcurrency = 1000\nretries = 100\n"),
                      env={})
    assert (s.host_delay, s.max_interval, s.concurrency, s.retries) == (86400.0, 31536000.0, 1000, 100)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('user_agent = "agent 中文"', "user_agent"),
        ('user_agent = "agent\\r\\nX-Evil: 1"', "user_agent"),
        ('user_agent = "agent\\u0000"', "user_agent"),
        ('contact_url = "https://例え.jp/contact"', "contact_url"),
        ('contact_url = "https://example.org/\\n"', "contact_url"),
    ],
)
def test_what_goes_into_the_user_agent_header_is_printable_ascii(elsewhere, config, line, key):
    path = config(line + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert message.startswith(f"{path}: key '{key}' must be ")
    assert "printable ASCII" in message and "\n" not in message


def test_a_latin_user_agent_is_fine(elsewhere):
    assert load_settings(env={"INGEST_USER_AGENT": "curator-bot/{version} (+{contact_url})"}).agent.startswith(
        "curator-bot/")


@pytest.mark.parametrize("key", ["output_dir", "archive_dir", "template", "sources", "taxonomy", "model",
                                 "snapshots", "ledger"])
def test_a_path_with_a_nul_character_is_refused(elsewhere, config, key):
    path = config(f'{key} = "notes\\u0000x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert str(info.value) == f"{path}: key '{key}' must be a path (text without NUL characters), got 'notes\\x00x'"


@pytest.mark.parametrize("key", ["output_dir", "archive_dir", "template", "ledger"])
def test_a_path_of_an_unknown_users_home_is_refused(elsewhere, key):
    with pytest.raises(ConfigError) as info:
        load_settings(env={f"INGEST_{key.upper()}": "~no-such-user-here/notes"})
    message = str(info.value)
    assert message.startswith(f"environment variable INGEST_{key.upper()}: key '{key}' must be a path")
    assert "~no-such-user-here" in message


LONG = "n" * 300  # longer than a file name may be: the system refuses to look, even for root


def test_a_config_path_the_system_will_not_look_at(elsewhere):
    with pytest.raises(ConfigError, match=f"^{LONG}: cannot be read \\(File name too long\\)$"):
        load_settings(LONG, env={})


def test_a_taxonomy_path_the_system_will_not_look_at(elsewhere):
    with pytest.raises(ConfigError, match=r"/n{300}: cannot be read \(File name too long\); check the 'taxonomy'"):
        load_settings(env={"INGEST_TAXONOMY": LONG})


@pytest.mark.parametrize("which", ["ingest", "sources", "taxonomy"])
def test_the_three_files_may_begin_with_a_byte_order_mark(tmp_path, which):
    text = {"ingest": "retries = 5\n", "sources": SOURCE, "taxonomy": "[tags]\nmin = 2\n"}[which]
    path = tmp_path / f"{which}.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    loaded = LOADERS[which](path)
    assert {"ingest": lambda: loaded.retries == 5, "sources": lambda: loaded[0].name == "a",
            "taxonomy": lambda: loaded.min_tags == 2}[which]()
