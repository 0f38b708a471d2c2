"""Every sub-command's --help prints its usage and exits 0 (argparse formats help texts with %)."""
import pytest

from nnscratch import cli


def sub_commands():
    parser = cli.build_parser()
    choices = next(action.choices for action in parser._actions if action.dest == "command")
    return sorted(choices)


def test_every_command_module_registers_a_sub_command():
    assert len(sub_commands()) == len(cli.COMMAND_MODULES), sub_commands()


def test_main_help_lists_the_sub_commands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in sub_commands():
        assert name in out, f"{name} missing from nnscratch --help:\n{out}"


@pytest.mark.parametrize("name", sub_commands())
def test_sub_command_help(name, capsys):
    assert cli.main([name, "--help"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"usage: nnscratch {name}"), captured.out[:200]
    assert "Traceback" not in captured.err, captured.err
    assert "``" not in captured.out, f"nnscratch {name} --help shows RST markup:\n{captured.out[:400]}"
