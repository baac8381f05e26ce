"""Condition a graphical model on evidence: which codes each attribute may take.

Evidence enters as an indicator potential per attribute (log 0 where a code is allowed, a
very large negative number where it is not), so belief propagation on the same junction
tree gives the conditional distribution exactly and sampling draws only rows that agree
with it. Post-processing of a fitted model: no data, no budget.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dpsynth.errors import InvalidParameterError
from dpsynth.pgm._model import GraphicalModel

#: Log-potential of a forbidden code: exp of it is exactly 0 in float64.
_FORBIDDEN = -1e9


def condition(model: GraphicalModel, evidence: Mapping[str, np.ndarray]) -> tuple[GraphicalModel, float]:
    """The model conditioned on ``evidence``, and the evidence's probability under it.

    Args:
        model: A fitted model.
        evidence: Attribute → boolean mask over its codes (True: allowed).

    Returns:
        ``(conditioned, probability)``: a model over the same attributes whose marginals
        are the conditional ones (scaled to ``model.total``), and P(evidence).

    Raises:
        InvalidParameterError: Unknown attributes or masks of the wrong length.
    """
    pots = {c: t.copy() for c, t in model.potentials.items()}
    probability = 1.0
    current = model
    for attr, mask in evidence.items():
        if attr not in model.domain.attrs:
            raise InvalidParameterError(f"no attribute {attr!r} in the model")
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (model.domain[attr],):
            raise InvalidParameterError(
                f"evidence on {attr!r} needs a mask of {model.domain[attr]} codes. Got shape {mask.shape}."
            )
        marg = current.project((attr,))
        total = float(marg.sum())
        probability *= float(marg[mask].sum()) / total if total > 0 else 0.0
        if probability <= 0.0:
            return current, 0.0
        log = np.where(mask, 0.0, _FORBIDDEN)
        key = (attr,)
        pots[key] = pots[key] + log if key in pots else log
        current = GraphicalModel(model.domain, pots, model.total, cliques=model.cliques)
    return current, probability
