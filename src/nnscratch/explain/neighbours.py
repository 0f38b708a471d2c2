"""The training digits nearest to an input: in pixel space, and in the last hidden layer's space.

Squared distances come from ‖x - t‖² = ‖t‖² - 2 t·x + ‖x‖², so a query is one matrix-vector product over the
stored training rows plus a partial sort; the rows and their squared norms are computed once, when the index
is built. Near in pixels means "drawn alike"; near in the hidden layer means "treated alike by the network".
"""
import numpy as np


class NearestIndex:
    """Exact nearest neighbours among the rows of ``points`` (N, D) by Euclidean distance."""

    def __init__(self, points):
        self.points = np.ascontiguousarray(points, dtype=np.float32)
        self.squared_norms = np.einsum("nd,nd->n", self.points, self.points)

    def __len__(self):
        return len(self.points)

    def query(self, point, count=8):
        """The ``count`` nearest rows as ``(indices, distances)``, nearest first (ties by index)."""
        point = np.asarray(point, dtype=np.float32).reshape(-1)
        if point.shape[0] != self.points.shape[1]:
            raise ValueError(f"the index holds points of {self.points.shape[1]} values, got {point.shape[0]}")
        count = min(int(count), len(self.points))
        squared = self.points @ point
        squared *= -2.0
        squared += self.squared_norms
        nearest = np.argpartition(squared, count - 1)[:count] if count < len(squared) else np.arange(count)
        nearest = nearest[np.lexsort((nearest, squared[nearest]))]
        distances = np.sqrt(np.maximum(squared[nearest] + float(point @ point), 0.0))
        return nearest, distances
