"""Graphical-model estimation (Private-PGM) in pure numpy.

Fits a Markov random field on a junction tree to noisy marginal measurements (McKenna,
Sheldon, Miklau, ICML 2019) and samples synthetic records from it. Everything here is
post-processing of measurements that are already private.
"""

from dpsynth.pgm._domain import Clique, Domain, Measurement
from dpsynth.pgm._estimate import estimate, estimate_total
from dpsynth.pgm._junction import JunctionTree, junction_tree, model_size_mb
from dpsynth.pgm._model import GraphicalModel

__all__ = [
    "Clique",
    "Domain",
    "GraphicalModel",
    "JunctionTree",
    "Measurement",
    "estimate",
    "estimate_total",
    "junction_tree",
    "model_size_mb",
]
