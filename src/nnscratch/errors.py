"""The base class of every error nnscratch raises about something a user gave it: a setting, a file, a
picture, a data set, a diverging run. The command line turns these into one line and exit status 2; any other
exception is a bug in nnscratch and keeps its traceback."""


class NNScratchError(Exception):
    """A problem with what nnscratch was given; the message says what, in one line."""


class ModelError(NNScratchError, ValueError):
    """A model that cannot do what was asked of it (class probabilities from a network that ends in ReLU, say)."""
