"""The exercises: implement backpropagation yourself, layer by layer, and be told precisely what is wrong.

``nnscratch exercises`` lists the track; ``start`` writes a file to fill in (a subclass of the engine's own
class whose methods raise ``NotImplementedError``), and ``check`` compares it with the engine's class: every
array with the diagnosis of ``nnscratch.gradcheck``, then lockstep in a small MNIST network, then a network of
your own layers trained on MNIST. In Python or Jupyter: ``from nnscratch.exercises import check; check(MyReLU)``.
"""
import sys

from .checking import check_classes
from .files import ExerciseFileError, learner_classes, start
from .report import Result
from .track import BY_NAME, PARTS, TRACK, engine_class_of


def check(*classes, steps=200, train_seconds=60.0, train_size=None, test_size=None, show=True):
    """Check each class against the engine class it subclasses and show the report (as HTML in a notebook);
    returns the ``Result``. ``steps``: lockstep steps on MNIST (0 to skip); ``train_seconds``: how long the
    final training runs when all is right (0 to skip); ``train_size``/``test_size`` limit the images used."""
    for cls in classes:
        if not isinstance(cls, type) or engine_class_of(cls) is None:
            raise TypeError(f"check expects classes that subclass an engine class of the track "
                            f"({', '.join(sorted({exercise.reference for exercise in TRACK}))}), got {cls!r}")
    result = check_classes(classes, steps=steps, train_seconds=train_seconds, train_size=train_size,
                           test_size=test_size)
    if show:
        display(result)
    return result


def display(result):
    """HTML in a Jupyter kernel, text elsewhere."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    if shell is not None and "IPKernelApp" in getattr(shell, "config", {}):
        from IPython.display import HTML
        from IPython.display import display as show
        show(HTML(result._repr_html_()))
    else:
        print(result)


__all__ = ["BY_NAME", "ExerciseFileError", "PARTS", "Result", "TRACK", "check", "check_classes",
           "learner_classes", "start"]
