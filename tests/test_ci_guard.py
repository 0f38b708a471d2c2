"""Under CI (NNSCRATCH_REQUIRE_EVERY_TEST=1) a skipped test fails the run, so a failed install of PyTorch,
Chromium or PostgreSQL cannot hide the tests that need it."""
import pathlib

CONFTEST = pathlib.Path(__file__).with_name("conftest.py").read_text()
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
