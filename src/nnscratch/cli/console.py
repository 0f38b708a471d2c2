"""What training looks like in a terminal: the banner, a progress bar per epoch, one line per epoch, a results table.

Under an epoch's line come the doctor's warnings made during that epoch, one line each. The progress bar (tqdm)
appears only on a terminal; elsewhere, or with ``--quiet``, only the plain lines are
printed, so logs stay readable.
"""
import os
import sys
import time
from contextlib import contextmanager

from tabulate import tabulate

from ..callbacks import Callback
from ..viz.summary import architecture_line


def percent(fraction):
    """0.94213 -> '94.21 %': two decimals, never a float artefact."""
    return f"{100.0 * fraction:.2f} %"


def banner(model, data, settings, source=None, out=None, width=100):
    """Architecture, data shapes and the settings that apply, before training starts; long lines break
    between layers, never inside a word."""
    lines = ["nnscratch: training a neural network from scratch with NumPy", ""]
    lines += wrapped("Architecture     ", architecture_line(model, data.train[0].shape[1:]).split(" --> "),
                     " --> ", width)
    lines.append(f"                 {model.num_parameters():,} parameters")
    splits = [f"{split} {x.shape} labels {y.shape}" for split, (x, y) in data.splits() if x is not None]
    lines += wrapped("Data             ", [f"{data.name} ({source})" if source else data.name, *splits], ", ",
                     width)
    lines += wrapped("Settings         ", [f"{name.replace('_', '-')} {value}"
                                          for name, value in applicable_settings(settings)], ", ", width)
    print("\n".join(lines), file=out or sys.stdout)


def applicable_settings(settings):
    """The settings that shape this run, by name: no momentum for Adam, no patience when there is none."""
    cnn = settings.get("architecture") != "mlp"
    names = ["architecture", "optimizer", "lr", *(["momentum"] if settings["optimizer"] == "sgd" else []),
             *(["betas"] if settings["optimizer"] != "sgd" else []), "weight_decay",
             "schedule", *(["warmup"] if settings["warmup"] else []), "batch_size", "epochs", "loss",
             *(["label_smoothing"] if settings.get("label_smoothing") else []),
             *(["hidden", "batch_norm"] if cnn else ["init"]), "dropout",
             *(["weight_average"] if settings.get("weight_average") else []), "augment", "shuffle",
             *(["patience"] if settings["patience"] is not None else []), "monitor", "seed"]
    return [(name, settings[name]) for name in names if name in settings]


def wrapped(head, parts, separator, width):
    """``head`` then ``parts`` joined by ``separator``, broken into lines of at most ``width`` characters between
    parts (a part longer than a line keeps a line of its own)."""
    lines, line = [], head + parts[0]
    for part in parts[1:]:
        if len(line) + len(separator) + len(part) > width:
            lines.append(line + separator.rstrip())
            line = " " * len(head) + part
        else:
            line += separator + part
    return lines + [line]


def epoch_line(record, epochs):
    """One line per epoch: training loss and accuracy, validation and test as correct / total and %, seconds."""
    width = len(str(epochs))
    parts = [f"Epoch {record['epoch']:>{width}}/{epochs}",
             f"loss {record['loss']:.4f}  accuracy {percent(record['accuracy'])}"]
    if record.get("val_total"):
        parts.append(f"validation loss {record['val_loss']:.4f}  "
                     f"{record['val_correct']} / {record['val_total']} ({percent(record['val_accuracy'])})")
    if record.get("test_total"):
        parts.append(f"test {record['test_correct']} / {record['test_total']} ({percent(record['test_accuracy'])})")
    parts.append(f"{record['seconds']:.1f} s")
    return " | ".join(parts)


def warning_line(diagnosis):
    """``  Warning (epoch 1, step 16): dead ReLUs: ...``: one diagnosis of the doctor, under the epoch line."""
    return f"  Warning (epoch {diagnosis['epoch']}, step {diagnosis['step']}): {diagnosis['message']}"


def results_table(rows):
    """``rows``: (split name, Evaluation) pairs, as a grid of loss, correct / total and accuracy."""
    body = [[name, f"{result.loss:.4f}", f"{result.correct} / {result.total}", percent(result.accuracy)]
            for name, result in rows]
    return tabulate(body, headers=["", "loss", "correct", "accuracy"], tablefmt="fancy_grid",
                    disable_numparse=True)


class ConsoleProgress(Callback):
    """Prints the epoch line after every epoch and, on a terminal, a tqdm bar of the steps within it.

    ``print_every``: print the line of the first epoch, of every ``print_every``-th and of the last only. Test
    figures appear on the line when another callback has measured them into the record (``test_total``). From the
    second epoch on, the bar also says how long the whole run has left (``time_left``): the mean time of the
    epochs done so far, validation and checkpoints included, times the epochs to go, less the time spent in this
    one. ``clock`` gives the time in seconds (``time.perf_counter``).
    """

    def __init__(self, epochs, quiet=False, out=None, print_every=1, clock=time.perf_counter):
        self.epochs, self.out, self.print_every = epochs, out or sys.stdout, int(print_every)
        self.bar_wanted = not quiet and hasattr(self.out, "isatty") and self.out.isatty()
        self.bar = None
        self.clock, self.started, self.epoch_started, self.mean_epoch = clock, None, None, None
        self.warned = 0  # the history's diagnoses printed so far

    def on_train_begin(self, state):
        self.started = self.clock()
        self.warned = len(getattr(state.history, "diagnoses", []))  # a resumed run's were printed before

    def on_epoch_begin(self, state):
        now = self.clock()
        self.started = now if self.started is None else self.started
        done = state.epoch - state.first_epoch
        self.epoch_started, self.mean_epoch = now, (now - self.started) / done if done > 0 else None
        if self.bar_wanted:
            from tqdm import tqdm
            self.bar = tqdm(total=state.steps, desc=self.description(state), leave=False, file=self.out,
                            mininterval=0.2, unit="step")

    def description(self, state):
        """``Epoch 3/10`` and, once an epoch has ended, ``, about 2 min left`` for the whole run."""
        text = f"Epoch {state.epoch + 1}/{state.last_epoch}"
        if self.mean_epoch is None:
            return text
        left = self.mean_epoch * (state.last_epoch - state.epoch) - (self.clock() - self.epoch_started)
        return f"{text}, {time_left(max(left, 0.0))}"

    def on_batch_end(self, state):
        if self.bar is not None:
            self.bar.update()
            if state.step % 50 == 1:
                self.bar.set_description(self.description(state), refresh=False)
                self.bar.set_postfix(loss=f"{state.batch_loss:.4f}", refresh=False)

    def on_epoch_end(self, state):
        self.close_bar()
        epoch = state.record["epoch"]
        if epoch == 1 or epoch % self.print_every == 0 or epoch == self.epochs:
            print(epoch_line(state.record, self.epochs), file=self.out, flush=True)
        self.print_warnings(state)

    def on_train_end(self, state):
        self.close_bar()
        self.print_warnings(state)

    def print_warnings(self, state):
        """The diagnoses not printed yet, one line each."""
        diagnoses = getattr(state.history, "diagnoses", [])
        for diagnosis in diagnoses[self.warned:]:
            print(warning_line(diagnosis), file=self.out, flush=True)
        self.warned = len(diagnoses)

    def close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def time_left(seconds):
    """A remaining time as a person would say it: ``a few seconds left``, ``about 40 s left`` (to 10 s),
    ``about 2 min left`` (to the minute), ``about 1 h 25 min left`` (to 5 minutes)."""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 55:
        return f"about {int(seconds / 10 + 0.5) * 10} s left"
    if seconds < 59.5 * 60:
        return f"about {max(int(seconds / 60 + 0.5), 1)} min left"
    hours, minutes = divmod(int(seconds / 300 + 0.5) * 5, 60)
    return f"about {hours} h left" if minutes == 0 else f"about {hours} h {minutes} min left"


ASCII_FOR = {"→": "->", "←": "<-", "±": "+/-", "…": "...", "×": "x", "–": "-", "—": "-", "≤": "<=", "≥": ">=",
             "≈": "~", "·": "*", "µ": "u", "°": " deg"}


def ascii_fallback(error):
    """A codec error handler: characters the stream cannot encode become ASCII look-alikes (box-drawing lines
    become -, | and +), others ?."""
    text = error.object[error.start:error.end]
    return "".join(ASCII_FOR.get(char) or box_as_ascii(char) for char in text), error.end


def box_as_ascii(char):
    import unicodedata
    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        horizontal, vertical = "HORIZONTAL" in name, "VERTICAL" in name
        return "-" if horizontal and not vertical else "|" if vertical and not horizontal else "+"
    return "?"


class QuietOnBrokenPipe:
    """A stream that, once its reader has gone away (``nnscratch train | head``), sends the rest to the null
    device instead of raising: the program goes on and finishes its work, as if the output were still read."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            self.silence()
            return len(text)

    def flush(self):
        try:
            self.stream.flush()
        except BrokenPipeError:
            self.silence()

    def silence(self):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self.stream.fileno())
        os.close(null)

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextmanager
def robust_output():
    """Standard output that survives a closed pipe, and text that degrades to ASCII where the terminal's
    encoding cannot show it."""
    import codecs
    codecs.register_error("nnscratch-ascii", ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and not can_encode(stream, "→±…╒═│"):
            stream.reconfigure(errors="nnscratch-ascii")
    real = sys.stdout
    sys.stdout = QuietOnBrokenPipe(real) if hasattr(real, "fileno") else real
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = real


def can_encode(stream, text):
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False
