"""The CLI's evaluation with a progress bar gives exactly evaluate_all's results."""

from __future__ import annotations

import math

from dpsynth.report import evaluate_with_progress


def test_same_results_as_evaluate_all(frames, domain, results):
    real, synth, holdout = frames
    mine = evaluate_with_progress(real, synth, domain, holdout=holdout, random_state=0)
    assert list(mine) == list(results)
    for name, r in results.items():
        assert math.isclose(mine[name].value, r.value, rel_tol=1e-12, abs_tol=1e-12) or (
            math.isnan(mine[name].value) and math.isnan(r.value)
        ), name
        assert mine[name].real_split == r.real_split

