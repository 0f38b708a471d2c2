"""Under CI (NNSCRATCH_REQUIRE_EVERY_TEST=1) a skipped test fails the run, so a failed install of PyTorch,
Chromium or PostgreSQL cannot hide the tests that need it."""
import pathlib

CONFTEST = (pathlib.Path(__file__).parents[1] / "conftest.py").read_text()
SKIPPING = "import pytest\n\ndef test_needs_chromium():\n    pytest.skip('Chromium is not installed')\n"


def test_a_skip_fails_the_run_when_every_test_is_required(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SKIPPING)
    monkeypatch.setenv("NNSCRATCH_REQUIRE_EVERY_TEST", "1")
    result = pytester.runpytest_subprocess("-q")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*1 tests skipped, which fails this run*", "*Chromium is not installed*"])


def test_a_skip_is_only_a_skip_otherwise(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(SKIPPING)
    monkeypatch.delenv("NNSCRATCH_REQUIRE_EVERY_TEST", raising=False)
    assert pytester.runpytest_subprocess("-q").ret == 0


def test_what_will_be_skipped_is_said_at_the_start_with_the_command_that_installs_it(pytester, monkeypatch):
    hidden = "\nimport importlib.util\n_find = importlib.util.find_spec\n" \
             "importlib.util.find_spec = lambda name, *a: None if name == 'torch' else _find(name, *a)\n"
    pytester.makeconftest(CONFTEST + hidden)  # a machine without PyTorch
    pytester.makepyfile("def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-q")
    assert result.ret == 0
    lines = result.stdout.lines
    start = next(index for index, line in enumerate(lines) if "Some tests will be skipped" in line)
    assert start < next(index for index, line in enumerate(lines) if "passed" in line)
    result.stdout.fnmatch_lines(["*the comparisons with PyTorch (the oracle tests): *-m pip install torch==2.13.0"])


def test_nothing_is_announced_where_nothing_is_missing(pytester):
    pytester.makeconftest(CONFTEST + "\nmissing_parts = lambda: []\n")
    pytester.makepyfile("def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-q")
    assert "will be skipped" not in result.stdout.str()
