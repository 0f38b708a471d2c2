"""The ``nnscratch`` command line: one sub-command per module in this package.

Each command module offers ``add_parser(subparsers)``, which registers its sub-command and sets ``run`` as the
function that receives the parsed arguments and returns the exit status. Errors a user can cause become one
line on stderr and exit status 2; nothing prints a traceback.
"""
import argparse
import importlib
import sys

from .. import __version__
from ..errors import NNScratchError

# Module names inside nnscratch.cli, each with add_parser(subparsers).
COMMAND_MODULES = ["train", "evaluate", "presets", "data", "predict", "plot", "export", "import_model", "draw",
                   "explain", "sweep"]
# Commands that read model files, and so may need the custom layers that --import registers.
LOADS_MODELS = ["train", "evaluate", "predict", "plot", "export", "draw", "explain"]

EXIT_USAGE = 2


class CommandError(NNScratchError):
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
    for command in subparsers.choices.values():  # module docstrings mark code ``so``; help is plain text
        command.description = (command.description or "").replace("``", "")
        command.epilog = command.epilog and command.epilog.replace("``", "")
    for command in LOADS_MODELS:
        if command in subparsers.choices:
            subparsers.choices[command].add_argument(
                "--import", dest="import_modules", action="append", default=[], metavar="MODULE",
                help="import MODULE first (a Python file or an importable module name), so that the custom "
                     "layers it registers with @register_layer can be loaded; may be given more than once")
    return parser


def import_custom_layers(modules):
    """Import each module (a path to a .py file, or a dotted name importable from here)."""
    import importlib.util
    import os
    for module in modules:
        try:
            if module.endswith(".py"):
                if not os.path.isfile(module):
                    raise CommandError(f"--import {module}: no such file")
                name = "nnscratch_custom_" + os.path.splitext(os.path.basename(module))[0]
                spec = importlib.util.spec_from_file_location(name, module)
                loaded = importlib.util.module_from_spec(spec)
                sys.modules[name] = loaded
                spec.loader.exec_module(loaded)
            else:
                if os.getcwd() not in sys.path:
                    sys.path.insert(0, os.getcwd())
                importlib.import_module(module)
        except CommandError:
            raise
        except Exception as error:  # noqa: BLE001 - the user's own code: report it in one line, whatever it raised
            raise CommandError(f"--import {module}: {type(error).__name__}: {error}") from None


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
        import_custom_layers(getattr(args, "import_modules", []))
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("nnscratch: interrupted", file=sys.stderr)
        return 130
    except SettingsError as error:
        print(f"nnscratch {args.command}: error: {error.as_flags()}", file=sys.stderr)
        return EXIT_USAGE
    except (NNScratchError, OSError) as error:  # anything else is a bug, and keeps its traceback
        print(f"nnscratch {args.command}: error: {describe(error)}", file=sys.stderr)
        return EXIT_USAGE


def describe(error):
    """An error's one line: its message, and for a file the OS could not open, the file and the reason."""
    if isinstance(error, OSError) and not isinstance(error, NNScratchError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)
