"""The table of every setting of a training run: its name, its kind, its default, what it means, the values it
may take and the rule it keeps. Everything else reads it: ``DEFAULTS``, the ``train`` and ``sweep`` commands'
flags (``add_flags``), the page's form (``form``), ``runs.settings``'s checks and ``evaluate``'s rebuilding of a
saved model's settings.

It lives in a module of its own, apart from ``runs.settings`` (which merges a preset into the settings and checks
the rules between settings), because it imports no preset: the presets are data that this table checks, and a
module that only wants the defaults or the flags need not load them.

A kind says how a value is read, from text (a flag, a form field) or from JSON:
``int`` a whole number, ``float`` a finite number (both may also take the words in ``choices``, such as
``batch_size``'s 'full'), ``text`` a word from ``choices`` (or, without choices, any text such as a path),
``ints`` and ``floats`` comma-separated numbers like 784,100,10, ``switch`` on or off. ``check`` is the rule a
read value keeps beyond its kind: it returns None when the value is fine, or the rule (``must be at least 1``)
that the one-line error quotes.
"""
import math
import re
from dataclasses import dataclass, replace

from ..datasets.sources import DATASETS
from ..errors import NNScratchError
from ..initializers import INITIALIZERS
from ..layers import ACTIVATIONS
from ..losses import LOSSES
from ..optimizers import OPTIMIZERS
from .build import ARCHITECTURES, SCHEDULES

MONITORS = ("val_accuracy", "val_loss")
MAX_SHIFT = 8  # --augment N shifts by up to N pixels; beyond a third of a 28-pixel digit it only destroys it
HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "softmax")
KINDS = ("int", "float", "text", "ints", "floats", "switch")


class SettingsError(NNScratchError, ValueError):
    """A setting with a value that cannot be used; ``setting`` names it. Messages mark setting names as
    ``{name}``: ``str(error)`` shows them by name (``batch_size``), ``error.as_flags()`` as the command line's flags
    (``--batch-size``)."""

    def __init__(self, message, setting=None):
        super().__init__(message)
        self.template, self.setting = message, setting

    def __str__(self):
        return MARKED.sub(lambda match: match.group(1), self.template)

    def as_flags(self):
        return MARKED.sub(lambda match: flag(match.group(1)), self.template)


MARKED = re.compile(r"\{([a-z_]+)\}")


def flag(name):
    """The command line's flag of a setting: ``batch_size`` is ``--batch-size``."""
    return "--" + name.replace("_", "-")


def at_least(low):
    return lambda value: None if value >= low else ("must be >= 0" if low == 0 else f"must be at least {low}")


def below_one(value):
    return None if 0 <= value < 1 else "must be in [0, 1)"


def positive(value):
    return None if value > 0 else "must be positive"


@dataclass(frozen=True)
class Setting:
    """One setting: ``name`` (``batch_size``; the flag is ``--batch-size``), ``kind`` (one of ``KINDS``),
    ``default``, ``help`` (for a switch, what its flag does: ``--NAME`` turns on a setting that is off by default,
    ``--no-NAME`` turns off one that is on), ``choices`` and ``check`` (see the module's docstring). ``unit``
    names what a number counts where the error says so (``a number of pixels``)."""

    name: str
    kind: str
    default: object
    help: str
    choices: tuple = ()
    check: object = None
    unit: str = ""

    @property
    def flag(self):
        if self.kind == "switch" and self.default:
            return flag("no_" + self.name)
        return flag(self.name)

    def read(self, value):
        """``value`` as this setting takes it (text is parsed), or a ``SettingsError`` in one line."""
        if value is None and self.default is None:
            return None
        value = READERS[self.kind](self, value)
        rule = self.check(value) if self.check and value not in self.choices else None
        if rule:
            raise SettingsError(f"{{{self.name}}} {rule}, got {value!r}", self.name)
        return value

    def refuse(self, expected, value):
        return SettingsError(f"{{{self.name}}} expects {expected}, got {value!r}", self.name)


def read_number(setting, value):
    """A whole (``int``) or finite (``float``) number from a number or its text; 1.5 is not a whole number, and
    True is no number. A setting with ``choices`` takes those words too, and names them in its one message."""
    if value in setting.choices:
        return value
    if setting.choices:
        expected = " or ".join([f"a number of {setting.unit}" if setting.unit else "a number",
                                *map(repr, setting.choices)])
        try:
            return read_number(replace(setting, choices=()), value)
        except SettingsError:
            raise setting.refuse(expected, value) from None
    whole = setting.kind == "int"
    if isinstance(value, bool) or value is None:
        raise setting.refuse("a number", value)
    try:
        parsed = (int(value) if whole else float(value)) if isinstance(value, str) else value
    except ValueError:
        raise setting.refuse("a whole number" if whole else "a number", value) from None
    if not isinstance(parsed, (int, float)):
        raise setting.refuse("a whole number" if whole else "a number", value)
    if not math.isfinite(parsed):
        raise setting.refuse("a finite number", value)
    if whole and parsed != int(parsed):
        raise setting.refuse("a whole number", value)
    return int(parsed) if whole else float(parsed)


def read_text(setting, value):
    if setting.choices and value not in setting.choices:
        raise SettingsError(f"{{{setting.name}}} must be one of {', '.join(setting.choices)}, got {value!r}",
                            setting.name)
    if not isinstance(value, str):
        raise setting.refuse(setting.unit or "text", value)
    return value


def read_numbers(setting, value):
    """Comma-separated numbers ("784,100,10") or a list of them."""
    like = ",".join(map(str, setting.default))
    expected = f"{setting.unit} like {like}"
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise setting.refuse(expected, value)
    number = Setting(setting.name, setting.kind[:-1], 0, "")
    try:
        return [number.read(item.strip() if isinstance(item, str) else item) for item in items]
    except SettingsError:
        raise setting.refuse(expected, value) from None


def read_switch(setting, value):
    if isinstance(value, bool):
        return value
    raise SettingsError(f"{{{setting.name}}} is on or off (true or false), got {value!r}", setting.name)


READERS = {"int": read_number, "float": read_number, "text": read_text, "ints": read_numbers,
           "floats": read_numbers, "switch": read_switch}


def layer_sizes(sizes):
    return None if len(sizes) >= 2 and all(size >= 1 for size in sizes) else "needs at least two positive sizes"


def two_decay_rates(betas):
    return None if len(betas) == 2 and all(0 <= beta < 1 for beta in betas) else "expects two numbers in [0, 1)"


def shift(pixels):
    return None if 0 <= pixels <= MAX_SHIFT else f"must be 0 to {MAX_SHIFT} pixels (or 'affine' or 'elastic')"


SETTINGS = {setting.name: setting for setting in [
    Setting("architecture", "text", "mlp",
            f"{', '.join(ARCHITECTURES)}: dense layers of the layers sizes, or two convolutions (cnn: 5x5x32 and "
            "5x5x64; cnn-small: 5x5x24 and 3x3x32), each pooled, then a dense layer of hidden units and 10 outputs, "
            "on 28x28 images", ARCHITECTURES),
    Setting("layers", "ints", (784, 100, 10), "layer sizes, input first (mlp)", check=layer_sizes, unit="sizes"),
    Setting("hidden", "int", 128, "units of the dense hidden layer (cnn)", check=at_least(1)),
    Setting("batch_norm", "switch", False,
            "cnn: batch normalisation after each convolution and the dense hidden layer"),
    Setting("activation", "text", "relu", "hidden activation: sigmoid, tanh, relu, leaky_relu", HIDDEN_ACTIVATIONS),
    Setting("output", "text", "none", "output activation: none (logits), softmax, sigmoid or same (as hidden)",
            ("none", "same", *ACTIVATIONS)),
    Setting("loss", "text", "softmax_cross_entropy",
            "softmax_cross_entropy, probability_cross_entropy, quadratic, mse, binary_cross_entropy", tuple(LOSSES)),
    Setting("label_smoothing", "float", 0.0,
            "softmax_cross_entropy: the weight spread evenly over all classes, in [0, 1)", check=below_one),
    Setting("init", "text", "he", "weight initializer: he, glorot, lecun, normal, uniform, zeros",
            tuple(INITIALIZERS)),
    Setting("bias_init", "text", "zeros", "bias initializer", tuple(INITIALIZERS)),
    Setting("optimizer", "text", "sgd", "sgd, adam or adamw", tuple(OPTIMIZERS)),
    Setting("lr", "float", 0.1, "learning rate", check=positive),
    Setting("momentum", "float", 0.0, "SGD momentum, in [0, 1)", check=below_one),
    Setting("betas", "floats", (0.9, 0.999), "Adam's two decay rates, like 0.9,0.999, each in [0, 1)",
            check=two_decay_rates, unit="two numbers"),
    Setting("weight_decay", "float", 0.0, "L2 weight decay", check=at_least(0)),
    Setting("schedule", "text", "constant", f"learning-rate schedule: {', '.join(SCHEDULES)}", SCHEDULES),
    Setting("warmup", "float", 0.0, "epochs of linear learning-rate warm-up", check=at_least(0)),
    Setting("dropout", "float", 0.0, "dropout probability after each hidden layer, in [0, 1)", check=below_one),
    Setting("weight_average", "float", 0.0,
            "keep an exponential moving average of the weights with this decay, in [0, 1) (like 0.999), and "
            "measure, pick and save it instead of the weights; 0: off", check=below_one),
    Setting("batch_size", "int", 32, "examples per step, or 'full' for full-batch descent", ("full",),
            check=at_least(1)),
    Setting("epochs", "int", 10, "passes over the training set (with --resume: the total)", check=at_least(1)),
    Setting("patience", "int", None, "stop after this many epochs without a better monitored metric",
            check=at_least(1)),
    Setting("monitor", "text", "val_accuracy",
            f"what picks the best epoch, whose weights are saved: {' or '.join(MONITORS)}", MONITORS),
    Setting("seed", "int", 0, "random seed: same seed, same run", check=at_least(0)),
    # Any name here: the loader (runs.data.load_data) knows which data sets exist, and refuses the others.
    Setting("dataset", "text", "mnist", f"{', '.join(DATASETS)} or lines", unit="a data set's name"),
    Setting("data", "text", None, "read the data set from this path instead of the cache", unit="a path"),
    Setting("validation_size", "int", 10000, "training examples held out for validation", check=at_least(0)),
    Setting("train_size", "int", None, "train on only the first N examples (lines: how many to draw)",
            check=at_least(1)),
    Setting("augment", "int", 0, f"shift training images randomly by up to N pixels (0 to {MAX_SHIFT}), or "
            "'affine': shift by up to 2 pixels, rotate by up to 10 degrees and scale by up to 10 %, or 'elastic': bend "
            "each image by a smooth random field (a 4x4 grid of moves of up to 1.5 pixels), then as 'affine'",
            ("affine", "elastic"),
            check=shift, unit="pixels"),
    Setting("print_every", "int", 1, "print the epoch line of the first epoch, every Nth and the last",
            check=at_least(1)),
    Setting("shuffle", "switch", True, "take the batches in file order (default: shuffle every epoch)"),
    Setting("report_test_each_epoch", "switch", False,
            "show the test accuracy on every epoch line, as Nielsen's network did"),
    Setting("evaluate_before", "switch", False, "print the test accuracy before training too"),
]}
# Every setting and its default: what a run uses when neither a preset nor the caller says otherwise.
DEFAULTS = {name: list(setting.default) if isinstance(setting.default, tuple) else setting.default
            for name, setting in SETTINGS.items()}


def add_flags(parser, skip=(), prefix=""):
    """One flag for each setting but those in ``skip``: ``--NAME VALUE`` (its help says the default), then the
    switches (``--NAME``, or ``--no-NAME`` for one on by default). A flag left out leaves its setting None, so that
    a preset's value stands."""
    settings = [setting for name, setting in SETTINGS.items() if name not in skip]
    for setting in (setting for setting in settings if setting.kind != "switch"):
        default = setting.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f"{prefix}{setting.help} (default: {shown})".replace("%", "%%")  # argparse formats help with %
        parser.add_argument(setting.flag, dest=setting.name, default=None, metavar=setting.name.upper(),
                            help=help_text)
    for setting in (setting for setting in settings if setting.kind == "switch"):
        parser.add_argument(setting.flag, dest=setting.name, action="store_false" if setting.default else "store_true",
                            default=None, help=setting.help.replace("%", "%%"))


def given_by_flags(args):
    """The settings named on the command line (flags left out are None)."""
    return {name: getattr(args, name) for name in SETTINGS if getattr(args, name, None) is not None}


def form():
    """What a settings form offers for each setting: its kind, default, help and choices, as JSON."""
    return [{"name": setting.name, "kind": setting.kind, "default": DEFAULTS[setting.name], "help": setting.help,
             "choices": list(setting.choices)} for setting in SETTINGS.values()]
