"""Several trained networks answering as one: the mean of their class probabilities.

Networks trained from different seeds err on different digits, so averaging what they believe corrects many of
each one's mistakes: p(c | x) = (1/M) Σ_m p_m(c | x), and the answer is the class with the largest mean.
``load_models`` reads one model file as that model, and several as an ``Ensemble``; every command that takes a
model takes several this way.
"""
import os
from contextlib import ExitStack, contextmanager

import numpy as np

from ..network import EVAL_BATCH_SIZE
from .models import input_shape_of, load_model
from .npz import ModelFileError


class Ensemble:
    """Models that take the same examples and know the same classes, answering with their mean probabilities."""

    def __init__(self, members, names=None):
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two models")
        self.members, self.names = list(members), [os.path.basename(str(name)) for name in names or []]
        if len(self.names) != len(self.members):
            self.names = [f"member {number}" for number in range(len(self.members))]
        self.training = False

    def eval(self):
        """Every member in eval mode, for good (an ensemble only ever answers)."""
        for member in self.members:
            member.eval()
        return self

    def check_outputs(self, input_shape):
        """Refuse members that answer with different numbers of classes: their probabilities cannot be averaged.
        ``input_shape`` is the shape of one example, which each member is shown once, as zeros."""
        x = np.zeros((1, *input_shape), dtype=self.dtype)
        counts = [member.predict_output(x).shape[-1] for member in self.members]
        if len(set(counts)) > 1:
            listed = ", ".join(f"{name} {count}" for name, count in zip(self.names, counts, strict=True))
            raise ModelFileError(f"the models answer with different numbers of classes ({listed}), so they cannot "
                                 f"answer as one")

    @property
    def dtype(self):
        return self.members[0].dtype

    def num_parameters(self):
        return sum(member.num_parameters() for member in self.members)

    @contextmanager
    def mode(self, training):
        """The members in ``training`` or eval mode for the block (an ensemble only ever answers in eval mode)."""
        with ExitStack() as stack:
            for member in self.members:
                stack.enter_context(member.mode(training=training))
            yield self

    def forward(self, x):
        """(1/M) Σ_m p_m(x): each member's class probabilities, averaged."""
        return np.mean([member.predict_proba(x) for member in self.members], axis=0, dtype=self.dtype)

    def predict_proba(self, x, batch_size=EVAL_BATCH_SIZE):
        return self.forward(np.asarray(x))

    predict_output = predict_proba

    def predict(self, x, batch_size=EVAL_BATCH_SIZE):
        return self.predict_proba(x).argmax(axis=1)


def load_models(paths, custom_layers=None):
    """``(model, metadata)`` from one model file, or ``(Ensemble, metadata)`` from several; the metadata is the
    first model's, with ``ensemble`` listing the files and ``members`` each file's own metadata. Models that take
    other examples, know other classes or answer with another number of them than the first are refused, naming
    the files."""
    paths = [str(path) for path in paths]
    if len(paths) == 1:
        return load_model(paths[0], custom_layers)
    members, recorded, first = [], [], None
    for path in paths:
        model, metadata = load_model(path, custom_layers)
        if first is None:
            first = metadata
        else:
            for key in ("input_shape", "class_names"):
                if metadata.get(key) != first.get(key):
                    raise ModelFileError(f"{path}: its {key.replace('_', ' ')} {metadata.get(key)} differs from "
                                         f"{paths[0]}'s {first.get(key)}, so the two cannot answer as one")
        members.append(model)
        recorded.append(metadata)
    ensemble = Ensemble(members, paths)
    shape = input_shape_of(members[0], first)
    if shape is not None:
        ensemble.check_outputs(shape)
    return ensemble, {**first, "ensemble": paths, "members": recorded}
