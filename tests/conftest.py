"""Fixtures that many test files share."""
import pytest


@pytest.fixture
def use_loader(monkeypatch):
    """``use_loader(load)``: every command that loads a data set from settings (train, evaluate, the page's
    runs) gets ``load(settings)`` instead."""
    from nnscratch.cli import common
    from nnscratch.runs import run

    def install(load):
        monkeypatch.setattr(run, "load_data", load)
        monkeypatch.setattr(common, "load_data", load)

    return install
