"""The page with several models: they answer as one ensemble (the mean of their class probabilities), and the
Look inside views explain one member at a time.

An ensemble has no single hidden layer, weight image or logit to split, so ``/api/explain/...`` takes the member
to look inside as ``?member=K`` (0 for the first model given); without it the answer is a 400 that says so. The
members share the test digits of the page's model and one copy of the training digits.
"""
import os
import threading
import urllib.parse

import numpy as np

from ..serialization import Ensemble
from ..viz.summary import short_architecture
from .bodies import RequestError
from .explain_api import explain_api_for, parse_query, training_digits


def is_ensemble(model):
    return isinstance(model, Ensemble)


def member_names(ensemble):
    """Each member's file name (``member K`` when the ensemble was built without names)."""
    names = [os.path.basename(str(name)) for name in ensemble.names]
    return names if len(names) == len(ensemble.members) else [f"member {k}" for k in range(len(ensemble.members))]


def describe_members(ensemble):
    """Each member's name, architecture and size, for the page's header."""
    return [{"name": name, "architecture": short_architecture(member), "parameters": int(member.num_parameters())}
            for name, member in zip(member_names(ensemble), ensemble.members)]


def check_members(ensemble, input_shape):
    """Refuse members that answer with different numbers of classes (their probabilities cannot be averaged)."""
    x = np.zeros((1, *input_shape), dtype=ensemble.dtype)
    counts = [member.predict_proba(x).shape[-1] for member in ensemble.members]
    if len(set(counts)) > 1:
        listed = ", ".join(f"{name} {count}" for name, count in zip(member_names(ensemble), counts))
        raise ValueError(f"the models answer with different numbers of classes ({listed}), so they cannot answer "
                         f"as one")


class EnsembleExplainAPI:
    """The Look inside routes for an ensemble's ``DrawService``: ``?member=K`` picks the member, whose own
    ``ExplainAPI`` (built on first use) answers the request."""

    def __init__(self, service, train_set=None):
        from .service import DrawService
        self.service = service
        members = service.model.members
        metadata = {key: value for key, value in service.metadata.items()
                    if key not in ("ensemble", "test_accuracy", "training")}
        self.member_services = [DrawService(member, metadata, name=name, test_set=service.test_set)
                                for name, member in zip(member_names(service.model), members)]
        self.train_set = shared(train_set or (lambda: training_digits(service.metadata)))
        self.apis = [None] * len(members)
        self.lock = threading.Lock()

    def handle(self, method, path, query="", body=b"", content_type="application/json"):
        fields = parse_query(query)
        count = len(self.apis)
        text = fields.pop("member", None)
        if text is None:
            raise RequestError(400, f"the page's model is an ensemble of {count} models; Look inside explains one "
                                    f"member at a time: add member=0..{count - 1} to the query")
        if not (text.isdigit() and int(text) < count):
            raise RequestError(400, f"member must be a whole number from 0 to {count - 1}, got {text[:20]!r}")
        return self.api(int(text)).handle(method, path, urllib.parse.urlencode(fields), body, content_type)

    def api(self, member):
        with self.lock:
            if self.apis[member] is None:
                self.apis[member] = explain_api_for(self.member_services[member], train_set=self.train_set)
            return self.apis[member]


def shared(load):
    """``load``, called once however many members ask (the training digits are tens of megabytes)."""
    lock, result = threading.Lock(), []

    def once():
        with lock:
            if not result:
                result.append(load())
            return result[0]
    return once
