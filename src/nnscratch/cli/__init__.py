"""The ``nnscratch`` command line: one sub-command per module in this package.

Each command module offers ``add_parser(subparsers)``, which registers its sub-command and sets ``run`` as the
function that receives the parsed arguments and returns the exit status. Errors a user can cause become one
line on stderr and exit status 2; nothing prints a traceback.
"""
import argparse
import importlib
import re
import sys

from .. import __version__
from ..errors import NNScratchError

# Module names inside nnscratch.cli, each with add_parser(subparsers).
COMMAND_MODULES = ["train", "evaluate", "presets", "data", "info", "predict", "step", "exercises", "plot",
                   "export", "import_model", "draw", "explain", "sweep"]
# Commands that read model files, and so may need the custom layers that --import registers.
LOADS_MODELS = ["train", "evaluate", "info", "predict", "step", "plot", "export", "draw", "explain"]
# What each command was doing when memory ran out, and what to make smaller: "not enough memory to ...: try a
# smaller ...".
MEMORY_ADVICE = {
    "train": ("train this network", "--batch-size, network (--layers, --hidden) or --train-size"),
    "sweep": ("run these trials", "search space (smaller networks and batches) or fewer --workers"),
    "evaluate": ("evaluate this model", "model, or a data set of fewer examples"),
    "predict": ("predict with this model", "model, or smaller pictures"),
    "step": ("take this step", "model"),
    "explain": ("explain this answer", "model"),
    "info": ("read this model file", "model"),
    "export": ("export this model", "model"),
    "import": ("convert this model", "model"),
    "plot": ("draw this plot", "number of runs or of --neurons"),
    "draw": ("serve the page", "model"),
    "data": ("read this data set", "data set file"),
}

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a program that Ctrl-C stopped


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
    """Parse ``argv`` and run its command. Ctrl-C anywhere, the imports of the command modules included, exits
    with status 130; the user's errors, and running out of memory, become one line on stderr and status 2."""
    command = None
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit:  # argparse has already printed its one-line usage error
            return exit.code if isinstance(exit.code, int) else EXIT_USAGE
        if not getattr(args, "run", None):
            parser.print_help()
            return EXIT_USAGE
        command = args.command
        import_custom_layers(getattr(args, "import_modules", []))
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("nnscratch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError as error:
        print(f"{program(command)}: error: {out_of_memory(command, error)}", file=sys.stderr)
        return EXIT_USAGE
    except (NNScratchError, OSError) as error:  # anything else is a bug, and keeps its traceback
        from ..runs import SettingsError
        message = error.as_flags() if isinstance(error, SettingsError) else describe(error)
        print(f"{program(command)}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def program(command):
    return f"nnscratch {command}" if command else "nnscratch"


def out_of_memory(command, error):
    """The one line for a ``MemoryError`` in ``command``: what did not fit (NumPy says how large an array it could
    not allocate) and what to make smaller."""
    doing, smaller = MEMORY_ADVICE.get(command, (f"run {program(command)}", "input"))
    size = re.match(r"Unable to allocate (\S+ \S+)", str(error))
    needed = f" (an array of {size.group(1)} did not fit)" if size else ""
    return f"not enough memory to {doing}{needed}: try a smaller {smaller}"


def describe(error):
    """An error's one line: its message, and for a file the OS could not open, the file and the reason."""
    if isinstance(error, OSError) and not isinstance(error, NNScratchError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)
