"""The learner's files: writing a fresh exercise file (never over one that exists), and reading the classes of a
file to check, with a syntax error shown as Python shows it."""
import importlib.util
import os
import sys
import tempfile
import traceback

from ..errors import NNScratchError
from .templates import template
from .track import BY_NAME, engine_class_of


class ExerciseFileError(NNScratchError):
    """A file that cannot be written or read as an exercise; the message says why (a syntax error, Python's
    own lines for it)."""


def start(name, folder="."):
    """Write the exercise ``name`` as a file to fill in, in ``folder``; return its path. An existing file is
    never replaced: the new one is written beside it and linked into place only if the name is still free."""
    if name not in BY_NAME:
        raise ExerciseFileError(f"no exercise called {name!r}; the track: {', '.join(BY_NAME)}")
    exercise = BY_NAME[name]
    path = os.path.join(folder, exercise.filename)
    if os.path.lexists(path):
        raise ExerciseFileError(f"{path} exists already, and is left as it is: check it with "
                                f"`nnscratch exercises check {path}`, or start in another folder")
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".exercise-", suffix=".py")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(template(exercise))
        os.chmod(temporary, 0o644)
        os.link(temporary, path)            # fails, leaving ``path`` alone, if it appeared meanwhile
    except FileExistsError:
        raise ExerciseFileError(f"{path} exists already, and is left as it is") from None
    finally:
        os.unlink(temporary)
    return path


def learner_classes(path):
    """The classes defined in the Python file ``path`` that subclass an engine class of the track, in order."""
    try:
        with open(path, encoding="utf-8") as file:
            source = file.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ExerciseFileError(f"cannot read {path}: {reason}") from None
    try:
        code = compile(source, path, "exec")
    except SyntaxError as error:
        raise ExerciseFileError("".join(traceback.format_exception_only(error)).rstrip()) from None
    name = f"nnscratch_exercise_{abs(hash(os.path.abspath(path)))}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__file__ = path
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except Exception as error:  # noqa: BLE001 - the learner's file: say what it raised, in one line
        line = next((frame.lineno for frame in reversed(traceback.extract_tb(error.__traceback__))
                     if frame.filename == path), None)
        where = f", line {line}" if line else ""
        raise ExerciseFileError(f"{path}{where}: {type(error).__name__}: {error}") from None
    classes = [value for value in vars(module).values()
               if isinstance(value, type) and value.__module__ == name and engine_class_of(value) is not None]
    if not classes:
        raise ExerciseFileError(f"{path} defines no class that subclasses an engine layer, loss or optimizer of "
                                f"the track (class MyReLU(nn.ReLU): ..., say)")
    return classes
