"""The command line turns the project's own errors into one line and exit status 2, and nothing else: a bug in
nnscratch keeps its traceback instead of passing for a user's mistake."""
import pytest

from nnscratch import cli
from nnscratch.errors import NNScratchError


def test_a_programming_bug_keeps_its_traceback(monkeypatch):
    def buggy(args):
        return {}["missing"]  # a KeyError inside nnscratch is a bug, not bad input

    monkeypatch.setattr(cli, "build_parser", with_run(cli.build_parser, "presets", buggy))
    with pytest.raises(KeyError):
        cli.main(["presets"])


def test_the_projects_own_errors_are_one_line_and_status_2(monkeypatch, capsys):
    def refusing(args):
        raise NNScratchError("that file is not a model")

    monkeypatch.setattr(cli, "build_parser", with_run(cli.build_parser, "presets", refusing))
    assert cli.main(["presets"]) == 2
    assert capsys.readouterr().err == "nnscratch presets: error: that file is not a model\n"


def test_a_file_the_system_cannot_open_is_one_line(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path / "missing.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.npz" in err, err


def with_run(build_parser, command, run):
    """``build_parser`` whose ``command`` runs ``run``."""
    def build():
        parser = build_parser()
        choices = next(action.choices for action in parser._actions if action.dest == "command")
        choices[command].set_defaults(run=run)
        return parser
    return build
