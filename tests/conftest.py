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


@pytest.fixture
def use_mnist(monkeypatch):
    """``use_mnist(x, y, test=None, held_out=None)``: every command that reads MNIST by name (predict, explain,
    step) gets these digits instead: ``(x, y)`` as the training set, ``test`` (``(x, y)`` unless given) as the
    test set, no validation set. With ``held_out``, the command must ask for that many validation digits (0: the
    test set whole, nothing taken from the training set)."""
    from nnscratch import datasets

    def install(x, y, test=None, held_out=None):
        def load_dataset(name, path=None, validation_size=10000, **kwargs):
            assert name == "mnist", f"asked for the data set {name!r}, not MNIST"
            assert held_out is None or validation_size == held_out, f"asked for {validation_size} held out"
            return datasets.Dataset("mnist", tuple("0123456789"), (x, y), None, (x, y) if test is None else test)

        monkeypatch.setattr(datasets, "load_dataset", load_dataset)

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


def missing_parts():
    """``(what will be skipped, the command that installs what it needs)`` for each optional part this machine
    lacks: the PyTorch comparisons, the browser tests, the sweeps across machines, the extras."""
    import glob
    import importlib.util
    import shutil
    import sys

    def lacks(module):
        return importlib.util.find_spec(module) is None

    pip = f"{sys.executable} -m pip install"
    missing = []
    if lacks("torch"):
        missing.append(("the comparisons with PyTorch (the oracle tests)", f"{pip} torch==2.13.0"))
    if not shutil.which("chromium"):
        missing.append(("the page's browser tests (Chromium)", "apt-get install -y chromium"))
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        missing.append(("the sweep across machines (PostgreSQL)", "apt-get install -y postgresql"))
    extras = [module for module in ("playwright", "optuna", "psycopg2", "onnx", "onnxruntime", "sklearn",
                                    "nbclient") if lacks(module)]
    if extras:
        missing.append((f"the tests of {', '.join(extras)}", f"{pip} -e '.[test,all]'"))
    return missing


def pytest_sessionstart(session):
    """Say at the start, not only in the summary, what will be skipped and the one command that installs it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    missing = missing_parts()
    if reporter is None or not missing:
        return
    reporter.write_line("Some tests will be skipped, for lack of what they need (`bash .ci/run` installs it all):",
                        yellow=True)
    for what, command in missing:
        reporter.write_line(f"  {what}: {command}", yellow=True)


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
