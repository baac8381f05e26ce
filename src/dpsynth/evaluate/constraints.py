"""How many rows break the domain's public constraints.

A synthetic table from dpsynth should score 0 (sampling enforces the rules); the real
table's share is reported beside it, so a rule that the data itself breaks is visible.
Evaluation reads raw rows on purpose: it measures a release, it is not part of it.
"""

from __future__ import annotations

import numpy as np

from dpsynth.data.constraints import rows_satisfying
from dpsynth.data.domain import Domain
from dpsynth.evaluate._base import Metric, Result
from dpsynth.evaluate._prepare import Prepared


class ConstraintViolations(Metric):
    """Share of synthetic rows that break at least one constraint of the domain.

    ``details["per_rule"]`` lists each rule with the share of synthetic and of real rows
    that break it.
    """

    name = "constraint_violations"
    goal = "minimize"
    min_value = 0.0
    max_value = 1.0

    def applies(self, domain: Domain) -> bool:
        """Needs at least one constraint in the domain."""
        return bool(domain.constraints)

    def _compute(self, prep: Prepared) -> Result:
        domain = prep.domain
        syn, real = prep.synthetic.frame, prep.real.frame
        per_rule = [
            {
                "rule": rule.describe(),
                "synthetic": float(1.0 - np.mean(rule.holds(syn, domain))) if len(syn) else 0.0,
                "real": float(1.0 - np.mean(rule.holds(real, domain))) if len(real) else 0.0,
            }
            for rule in domain.constraints
        ]
        value = float(1.0 - np.mean(rows_satisfying(domain.constraints, syn, domain))) if len(syn) else 0.0
        return self._result(prep, value, details={"per_rule": per_rule})
