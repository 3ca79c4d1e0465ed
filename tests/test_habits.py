"""Habits of the test suite, checked like any other rule: every test asserts something, and CI runs
the README's test command."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
# pytest.raises / pytest.warns / pytest.fail check by raising; helpers named assert_* or check_*
# (private ones too: _check_loads) assert inside
ASSERTING_CALLS = ("raises", "warns", "fail")
ASSERTING_PREFIXES = ("assert_", "check_")


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _asserts(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Assert):
            return True
        if isinstance(inner, ast.Call):
            name = _called_name(inner)
            if name in ASSERTING_CALLS or name.lstrip("_").startswith(ASSERTING_PREFIXES):
                return True
    return False


def unasserted_tests(folder: Path) -> list[str]:
    """`file:line name` of each test function whose body neither asserts nor calls an asserting helper."""
    found = []
    for path in sorted(folder.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                if not _asserts(node):
                    found.append(f"{path.name}:{node.lineno} {node.name}")
    return found


def test_every_test_asserts_something():
    assert unasserted_tests(TESTS) == []


def test_the_scan_finds_a_test_without_an_assertion(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "def check_page(page):\n    assert page\n"
        "def fetch(url):\n    return url\n"
        "def test_asserts():\n    assert 1\n"
        "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n"
        "def test_delegates():\n    check_page('p')\n"
        "def test_delegates_privately():\n    _assert_page('p')\n"
        "def test_only_runs():\n    fetch('u')\n"
        "class TestGroup:\n    def test_in_a_class(self):\n        fetch('u')\n",
        encoding="utf-8",
    )
    assert unasserted_tests(tmp_path) == ["test_sample.py:15 test_only_runs", "test_sample.py:18 test_in_a_class"]


def test_ci_ends_with_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"run the whole test suite.*?```sh\n(.+?)\n```", readme, re.DOTALL).group(1)
    setup, _, tests = command.rpartition(" && ")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in ci.splitlines() if line.startswith((".venv/bin/", "python3 "))]
    assert "-e '.[test]'" in setup and "-e '.[test]'" in steps[0]
    assert steps[-1].split(" <")[0].split(" ||")[0] == tests


@pytest.mark.parametrize(("in_ci", "shared_exists", "outcome"), [
    (False, True, pytest.skip.Exception),
    (True, True, pytest.fail.Exception),
    (True, False, pytest.skip.Exception),
])
def test_a_missing_corpus_fails_a_quality_floor_in_ci(tmp_path, monkeypatch, in_ci, shared_exists, outcome):
    import conftest

    shared = tmp_path / "shared"
    if shared_exists:
        shared.mkdir()
    monkeypatch.setattr(conftest, "IN_CI", in_ci)
    monkeypatch.setattr(conftest, "SHARED", shared)
    with pytest.raises(outcome):
        conftest.require_corpus(shared / "corpus" / "extraction", "extraction corpus")
    conftest.require_corpus(tmp_path, "a corpus that is there")  # returns: nothing to skip or fail
