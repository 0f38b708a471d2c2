"""The search space of a sweep: which training settings vary, and how.

A parameter is written ``NAME=KIND:ARGS``, as on the command line: ``lr=loguniform:1e-4:1e-1``,
``dropout=uniform:0:0.5``, ``seed=int:0:4`` (both ends included), ``hidden=choice:64,128,256``. NAME is a
training setting (those of ``nnscratch train``). ``hidden`` sets the width of every hidden layer: for a cnn it is
the ``hidden`` setting itself, for an mlp each hidden size in ``layers`` becomes it (``784,1024,512,10`` with
hidden 128 gives ``784,128,128,10``), so the depth stays the preset's. This module only describes and checks the
space; ``Param.suggest`` asks an Optuna trial for a value without importing Optuna.
"""
from dataclasses import dataclass

from ..errors import NNScratchError
from ..runs.table import SETTINGS

KINDS = ("loguniform", "uniform", "int", "choice")


class SweepError(NNScratchError, ValueError):
    """A sweep that cannot run as asked: a parameter written wrongly, a study that does not match, a storage
    that cannot be reached. The message is one line that names what is wrong."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    low: float = None
    high: float = None
    choices: tuple = ()

    @property
    def spec(self):
        """The canonical ``KIND:ARGS`` text, the same for ``1e-4`` and ``0.0001``."""
        if self.kind == "choice":
            return "choice:" + ",".join(map(str, self.choices))
        return f"{self.kind}:{self.low!r}:{self.high!r}"

    def suggest(self, trial):
        """A value for this parameter from an Optuna ``trial``."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high)
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "loguniform")

    def grid(self):
        """Every value, for the grid sampler: the choices, or each whole number of an int range."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return list(range(self.low, self.high + 1))
        raise SweepError(f"--param {self.name}: the grid sampler needs choice or int values, not {self.kind} "
                         f"(write e.g. {self.name}=choice:{self.low:g},{self.high:g})")

    def corners(self):
        """The values at the ends of the range (for checking the settings before any trial)."""
        return [self.choices[0], self.choices[-1]] if self.kind == "choice" else [self.low, self.high]


def parse_param(text, check_names=True):
    """A ``Param`` from ``NAME=KIND:ARGS``; a ``SweepError`` naming the parameter when it is written wrongly."""
    name, equals, spec = str(text).partition("=")
    name = name.strip().replace("-", "_")
    if not equals or not name:
        raise SweepError(f"--param {text!r}: expected NAME=KIND:ARGS, e.g. lr=loguniform:1e-4:1e-1")
    return make_param(name, spec.strip(), check_names)


def make_param(name, spec, check_names=True):
    """A ``Param`` named ``name`` from ``KIND:ARGS`` text, or from a list of choices; with ``check_names``, the
    name must be a training setting."""
    where = f"--param {name}"
    if not name.isidentifier():
        raise SweepError(f"{where}: a parameter's name is a setting's name, such as lr or hidden")
    if check_names and name not in SETTINGS:
        raise SweepError(f"{where}: unknown setting; known: {', '.join(SETTINGS)}")
    if isinstance(spec, (list, tuple)):
        spec = "choice:" + ",".join(map(str, spec))
    kind, _, args = str(spec).partition(":")
    if kind not in KINDS:
        raise SweepError(f"{where}: unknown kind {kind!r}; expected one of {', '.join(KINDS)} "
                         f"(e.g. {name}=loguniform:1e-4:1e-1)")
    if kind == "choice":
        choices = tuple(parse_value(value.strip()) for value in args.split(",") if value.strip())
        if not choices:
            raise SweepError(f"{where}: choice needs at least one value, e.g. {name}=choice:64,128")
        if len(set(choices)) != len(choices):
            raise SweepError(f"{where}: choice lists a value twice: {args}")
        return Param(name, kind, choices=choices)
    ends = args.split(":")
    if len(ends) != 2:
        raise SweepError(f"{where}: {kind} needs LOW:HIGH, e.g. {name}={kind}:{'0:4' if kind == 'int' else '1e-4:1e-1'}"
                         f", got {args!r}")
    number = int if kind == "int" else float
    try:
        low, high = (number(end) for end in ends)
    except ValueError:
        what = "whole numbers" if kind == "int" else "numbers"
        raise SweepError(f"{where}: {kind} needs {what} LOW:HIGH, got {args!r}") from None
    if not low < high:
        raise SweepError(f"{where}: LOW must be below HIGH, got {low:g} and {high:g}")
    if kind == "loguniform" and low <= 0:
        raise SweepError(f"{where}: loguniform needs LOW > 0, got {low:g}")
    if low != low or high != high or abs(low) == float("inf") or abs(high) == float("inf"):
        raise SweepError(f"{where}: LOW and HIGH must be finite, got {args!r}")
    return Param(name, kind, low, high)


def parse_value(text):
    """A choice as an int, a float or text, whichever it reads as."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_space(space, check_names=True):
    """``{name: Param}`` from ``NAME=KIND:ARGS`` strings, or from a dict of ``{name: "KIND:ARGS" or [choices]}``."""
    if isinstance(space, str):
        space = [space]
    params = [make_param(name, spec, check_names) for name, spec in space.items()] if isinstance(space, dict) \
        else [parse_param(text, check_names) for text in space]
    names = [param.name for param in params]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SweepError(f"--param {repeated[0]}: given more than once")
    return {param.name: param for param in params}


def trial_settings(fixed, values, preset_layers):
    """The training settings of one trial: ``fixed`` with the parameters' ``values`` on top; ``hidden`` for an mlp
    becomes the size of every hidden layer of ``preset_layers`` (the layers the fixed settings give)."""
    settings = {**fixed, **values}
    if "hidden" in values and preset_layers:
        layers = list(preset_layers)
        settings["layers"] = [layers[0], *[values["hidden"]] * (len(layers) - 2), layers[-1]]
        del settings["hidden"]
    return settings
