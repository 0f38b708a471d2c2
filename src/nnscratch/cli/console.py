"""What training looks like in a terminal: the banner, a progress bar per epoch, one line per epoch, a results table.

The progress bar (tqdm) appears only on a terminal; elsewhere, or with ``--quiet``, only the plain lines are
printed, so logs stay readable.
"""
import sys

import numpy as np
from tabulate import tabulate

from ..training import Callback


def percent(fraction):
    """0.94213 -> '94.21 %': two decimals, never a float artefact."""
    return f"{100.0 * fraction:.2f} %"


def architecture_line(model, input_shape):
    """``Input (m, 784) --> Linear (m, 30) --> Sigmoid --> ... --> Output (m, 10)``: one line, batch first.

    ``input_shape`` is one example's shape (an int for flat rows). Layers that change the shape show the shape
    they give, found by passing one blank example through the network in eval mode.
    """
    shape = (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    parts = [f"Input {batch_shape(shape)}"]
    x, was_training = np.zeros((1, *shape), dtype=model.dtype), model.training
    model.eval()
    try:
        for layer in model:
            before, x = x.shape, layer.forward(x)
            if x.shape != before:
                parts.append(f"{type(layer).__name__} {batch_shape(x.shape[1:])}")
            else:
                parts.append(repr(layer) if layer.config() and not layer.params else type(layer).__name__)
    finally:
        model.train(was_training)
    parts.append(f"Output {batch_shape(x.shape[1:])}")
    return " --> ".join(parts)


def batch_shape(shape):
    return "(m, " + ", ".join(map(str, shape)) + ")"


def banner(model, data, settings, out=None):
    """Architecture, data shapes and hyperparameters, before training starts."""
    lines = ["nnscratch: training a neural network from scratch with NumPy", "",
             f"Architecture     {architecture_line(model, data.train[0].shape[1:])}",
             f"                 {model.num_parameters():,} parameters",
             f"Data             {data.name}: " + ", ".join(
                 f"{split} {x.shape} labels {y.shape}" for split, (x, y) in data.splits() if x is not None)]
    cnn = settings.get("architecture") == "cnn"
    hyper = ["optimizer", "lr", "momentum", "weight_decay", "schedule", "batch_size", "epochs", "loss",
             *(["hidden", "batch_norm"] if cnn else ["init"]), "dropout", "augment", "shuffle", "patience", "seed"]
    lines.append("Hyperparameters  " + ", ".join(f"{key.replace('_', ' ')} {settings[key]}" for key in hyper))
    print("\n".join(lines), file=out or sys.stdout)


def epoch_line(record, epochs, test=None):
    """One line per epoch: training loss and accuracy, validation and test as correct / total and %, seconds."""
    width = len(str(epochs))
    parts = [f"Epoch {record['epoch']:>{width}}/{epochs}",
             f"loss {record['loss']:.4f}  accuracy {percent(record['accuracy'])}"]
    if record.get("val_total"):
        parts.append(f"validation loss {record['val_loss']:.4f}  "
                     f"{record['val_correct']} / {record['val_total']} ({percent(record['val_accuracy'])})")
    if test is not None:
        parts.append(f"test {test.correct} / {test.total} ({percent(test.accuracy)})")
    parts.append(f"{record['seconds']:.1f} s")
    return " | ".join(parts)


def results_table(rows):
    """``rows``: (split name, Evaluation) pairs, as a grid of loss, correct / total and accuracy."""
    body = [[name, f"{result.loss:.4f}", f"{result.correct} / {result.total}", percent(result.accuracy)]
            for name, result in rows]
    return tabulate(body, headers=["", "loss", "correct", "accuracy"], tablefmt="fancy_grid",
                    disable_numparse=True)


class ConsoleProgress(Callback):
    """Prints the epoch line after every epoch and, on a terminal, a tqdm bar of the steps within it.

    ``test_every_epoch``: a function returning the test ``Evaluation``, shown on each line (Nielsen's runs).
    ``on_record``: called with each record and its test result, for the caller's own bookkeeping.
    ``print_every``: print the line of the first epoch, of every ``print_every``-th and of the last only.
    """

    def __init__(self, epochs, quiet=False, test_every_epoch=None, on_record=None, out=None, print_every=1):
        self.epochs, self.out, self.print_every = epochs, out or sys.stdout, int(print_every)
        self.bar_wanted = not quiet and hasattr(self.out, "isatty") and self.out.isatty()
        self.test_every_epoch, self.on_record = test_every_epoch, on_record
        self.bar = None

    def on_epoch_begin(self, epoch, steps):
        if self.bar_wanted:
            from tqdm import tqdm
            self.bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}", leave=False, file=self.out,
                            mininterval=0.2, unit="step")

    def on_batch_end(self, epoch, step, loss):
        if self.bar is not None:
            self.bar.update()
            if step % 50 == 0:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch_end(self, record):
        self.close_bar()
        epoch = record["epoch"]
        if epoch == 1 or epoch % self.print_every == 0 or epoch == self.epochs:
            test = self.test_every_epoch() if self.test_every_epoch else None
            if test is not None:
                record["test_loss"], record["test_accuracy"] = test.loss, test.accuracy
            print(epoch_line(record, self.epochs, test), file=self.out, flush=True)
        if self.on_record:
            self.on_record(record)

    def close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
