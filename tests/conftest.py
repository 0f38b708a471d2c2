"""Fixtures that many test files share, and the rule that nothing skips under CI."""
import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def use_loader(monkeypatch):
    """``use_loader(load)``: every command that loads a data set from settings (train, evaluate, the page's
    runs) gets ``load(settings)`` instead."""
    from nnscratch.runs import data, run

    def install(load):
        monkeypatch.setattr(run, "load_data", load)
        monkeypatch.setattr(data, "load_data", load)

    return install


# Optional parts that must not silently skip under CI: `.ci/run` sets NNSCRATCH_REQUIRE_EVERY_TEST=1, and then any
# skipped test (PyTorch, Chromium, PostgreSQL or an extra missing) fails the run, naming what was missing.
REQUIRE_EVERY_TEST = "NNSCRATCH_REQUIRE_EVERY_TEST"
# Tests that may reach beyond this machine (a first MNIST download) are marked `network`; they run where MNIST is
# already cached, or where NNSCRATCH_NETWORK=1 allows the download (as `.ci/run` does).
NETWORK = "NNSCRATCH_NETWORK"
# Skips that are not about this machine lacking something nnscratch needs: scikit-learn's estimator checks skip
# their pandas-DataFrame and array-API input variants unless pandas and the array-API machinery are installed,
# inputs nnscratch's estimators do not claim to take.
TOLERATED_SKIPS = ("pandas is not installed: not checking estimators for pandas objects",
                   "SCIPY_ARRAY_API is not set: not checking array_api input")


def pytest_configure(config):
    config.addinivalue_line("markers", "network: may download MNIST once (off unless cached or NNSCRATCH_NETWORK=1)")


def mnist_is_cached():
    from nnscratch.datasets import fetch
    try:
        fetch("mnist", download=False)
        return True
    except Exception:  # noqa: BLE001 - any failure means: not usable from the cache alone
        return False


def pytest_collection_modifyitems(config, items):
    import os
    if os.environ.get(NETWORK) == "1" or not any(item.get_closest_marker("network") for item in items):
        return
    if mnist_is_cached():
        return
    skip = pytest.mark.skip(reason=f"may download MNIST, and it is not cached; {NETWORK}=1 allows it")
    for item in items:
        if item.get_closest_marker("network"):
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    import os
    if os.environ.get(REQUIRE_EVERY_TEST) != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [report for report in (reporter.stats.get("skipped", []) if reporter else [])
               if not any(reason in skip_reason(report) for reason in TOLERATED_SKIPS)]
    if skipped:
        reasons = sorted({skip_reason(report) for report in skipped})
        reporter.write_line(f"{REQUIRE_EVERY_TEST}=1: {len(skipped)} tests skipped, which fails this run:", red=True)
        for reason in reasons:
            reporter.write_line(f"  {reason}", red=True)
        session.exitstatus = 1


def skip_reason(report):
    return str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
