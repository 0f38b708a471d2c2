"""The ``nnscratch`` command line: one sub-command per module in this package.

Each command module offers ``add_parser(subparsers)``, which registers its sub-command and sets ``run`` as the
function that receives the parsed arguments and returns the exit status. Errors a user can cause become one
line on stderr and exit status 2; nothing prints a traceback.
"""
import argparse
import importlib
import sys

from .. import __version__

COMMAND_MODULES = ["train", "evaluate", "presets", "data", "predict", "plot", "export", "import_model", "draw", "explain", "sweep"]  # module names inside nnscratch.cli, each with add_parser(subparsers)

EXIT_USAGE = 2


class CommandError(Exception):
    """A user-facing failure: its message is printed as it is, and the command exits with status 2."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nnscratch",
        description="Neural networks from scratch in NumPy: train, evaluate and explore models of handwritten digits.",
    )
    parser.add_argument("--version", action="version", version=f"nnscratch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    from .console import robust_output
    with robust_output():
        return run_command(argv)


def run_command(argv):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # argparse has already printed its one-line usage error
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    from ..runs import SettingsError
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("nnscratch: interrupted", file=sys.stderr)
        return 130
    except SettingsError as error:
        print(f"nnscratch {args.command}: error: {error.as_flags()}", file=sys.stderr)
        return EXIT_USAGE
    except (CommandError, ValueError, TypeError, KeyError, OSError, FloatingPointError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"nnscratch {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
