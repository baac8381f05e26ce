"""Private Evolution: DP synthetic data from black-box generators, with no training.

Lin et al. (ICLR 2024); Aug-PE for text (Xie et al., ICML 2024); Sim-PE with simulators
(2025); Tab-PE for tables (2026). The roles follow the papers (and the authors' DPSDA
library) so that a reader can map them across:

* :class:`API` — ``random_api`` and ``variation_api`` (public generators);
* :class:`Embedding` — the space in which private records vote;
* :class:`Histogram` — the DP vote histogram, the only role that reads private data
  (through ``PrivateData``, charged to the fit's accountant);
* :class:`Population` — selection by sampling or by rank, keep-selected, variation schedule;
* :class:`PrivateEvolution` — the loop, with callbacks that see only DP outputs.

Tables are the ``pe`` generator of the registry (:mod:`dpsynth.synth.pe`); the digits
simulator is :mod:`dpsynth.pe.digits`; text (Aug-PE without an LLM) is :mod:`dpsynth.pe.text`.
"""

from dpsynth.pe.accounting import (
    aug_pe_delta,
    epsilon_for_sigma,
    mu_for_sigma,
    sigma_for_epsilon,
    sigma_for_rho,
)
from dpsynth.pe.api import API
from dpsynth.pe.embedding import Embedding
from dpsynth.pe.histogram import (
    Histogram,
    NearestNeighbourHistogram,
    RandomFourierFeatures,
    RFFHistogram,
    Votes,
)
from dpsynth.pe.population import Population
from dpsynth.pe.runner import PEResult, PrivateEvolution
from dpsynth.pe.tabular import TableCodec, TabularAPI, TabularEmbedding
from dpsynth.pe.text import TextAPI, TextEmbedding, TextPE, WordNeighbours, text_private_data

__all__ = [
    "API",
    "Embedding",
    "Histogram",
    "NearestNeighbourHistogram",
    "PEResult",
    "Population",
    "PrivateEvolution",
    "RFFHistogram",
    "RandomFourierFeatures",
    "TableCodec",
    "TabularAPI",
    "TabularEmbedding",
    "TextAPI",
    "TextEmbedding",
    "TextPE",
    "Votes",
    "WordNeighbours",
    "aug_pe_delta",
    "epsilon_for_sigma",
    "mu_for_sigma",
    "sigma_for_epsilon",
    "sigma_for_rho",
    "text_private_data",
]
