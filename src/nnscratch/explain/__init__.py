"""Looking inside a trained classifier: what each layer computed, why it chose its class, which pixels and
which hidden units mattered, what it finds alike, and where it goes wrong.

The engine supplies the two passes (``nnscratch.inspection``: a forward that records every layer, a backward
from one logit); this package turns them into the views that ``nnscratch explain`` and the page show.
Pictures are drawn in ``figure.py``, the only module here that imports matplotlib.
"""
from .anatomy import Anatomy, ExplainError
from .attribution import contributions, is_piecewise_linear, saliency, untrained_twin
from .explainer import Explainer
from .mistakes import Mistakes
from .neighbours import NearestIndex
from .probes import LOW_CONFIDENCE, PROBES, probe

__all__ = ["Anatomy", "ExplainError", "Explainer", "LOW_CONFIDENCE", "Mistakes", "NearestIndex", "PROBES",
           "contributions", "is_piecewise_linear", "probe", "saliency", "untrained_twin"]
