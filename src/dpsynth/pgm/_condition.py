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


def condition(
    model: GraphicalModel, evidence: Mapping[str | tuple[str, ...], np.ndarray]
) -> tuple[GraphicalModel, float]:
    """The model conditioned on ``evidence``, and the evidence's probability under it.

    Args:
        model: A fitted model.
        evidence: Attribute (or tuple of attributes) → boolean mask over its codes (over
            the joint codes, axes in the tuple's order), True where allowed. Evidence on
            several attributes that share no clique adds that clique to the junction tree.

    Returns:
        ``(conditioned, probability)``: a model over the same attributes whose marginals
        are the conditional ones (scaled to ``model.total``), and P(evidence).

    Raises:
        InvalidParameterError: Unknown attributes or masks of the wrong shape.
    """
    pots = {c: t.copy() for c, t in model.potentials.items()}
    cliques = list(model.cliques)
    probability = 1.0
    current = model
    for key, mask in evidence.items():
        attrs = (key,) if isinstance(key, str) else tuple(key)
        unknown = [a for a in attrs if a not in model.domain.attrs]
        if unknown:
            raise InvalidParameterError(f"no attribute(s) {unknown} in the model")
        shape = tuple(model.domain[a] for a in attrs)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != shape:
            raise InvalidParameterError(
                f"evidence on {attrs} needs a mask of shape {shape}. Got shape {mask.shape}."
            )
        marg = current.project(attrs)
        total = float(marg.sum())
        probability *= float(marg[mask].sum()) / total if total > 0 else 0.0
        if probability <= 0.0:
            return current, 0.0
        canon = model.domain.canonical(attrs)
        log = np.where(mask, 0.0, _FORBIDDEN).transpose([attrs.index(a) for a in canon])
        pots[canon] = pots[canon] + log if canon in pots else log
        if not any(set(canon) <= set(c) for c in cliques):
            cliques.append(canon)
        current = GraphicalModel(model.domain, pots, model.total, cliques=cliques)
    return current, probability
