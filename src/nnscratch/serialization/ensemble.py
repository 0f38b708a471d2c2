"""Several trained networks answering as one: the mean of their class probabilities.

Networks trained from different seeds err on different digits, so averaging what they believe corrects many of
each one's mistakes: p(c | x) = (1/M) Σ_m p_m(c | x), and the answer is the class with the largest mean.
``load_models`` reads one model file as that model, and several as an ``Ensemble``; every command that takes a
model takes several this way.
"""
from contextlib import ExitStack, contextmanager

import numpy as np

from ..network import EVAL_BATCH_SIZE

from .models import load_model
from .npz import ModelFileError


class Ensemble:
    """Models that take the same examples and know the same classes, answering with their mean probabilities."""

    def __init__(self, members, names=None):
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two models")
        self.members, self.names = list(members), list(names or [])
        self.training = False

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
    first model's, with ``ensemble`` listing the files. Models that take other examples or know other classes
    than the first are refused, naming the file."""
    paths = [str(path) for path in paths]
    if len(paths) == 1:
        return load_model(paths[0], custom_layers)
    members, first = [], None
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
    return Ensemble(members, paths), {**first, "ensemble": paths}
