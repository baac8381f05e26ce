"""Cross-check against the reference implementation, Private-PGM (``mbi``)."""

import itertools
import math

import numpy as np

from dpsynth.pgm import Domain, estimate
from tests.pgm._helpers import marginal, noisy_measurements


def _frank_wolfe_gap(dom, ms, mus, total):
    """Upper bound on L(μ) − min L over the marginal polytope, for L = Σ w‖μ_c − y_c‖².

    By convexity L* ≥ L(μ) + min_ν ⟨∇L(μ), ν − μ⟩; the minimum over the polytope is
    attained at a point mass (N records all equal to one x), found by enumeration.
    """
    grads = [
        2.0 / m.sigma**2 * (mu - m.values.reshape(mu.shape)) for m, mu in zip(ms, mus, strict=True)
    ]
    inner = sum(float(np.sum(g * mu)) for g, mu in zip(grads, mus, strict=True))
    best = min(
        sum(g[tuple(x[dom.index(a)] for a in m.clique)] for g, m in zip(grads, ms, strict=True))
        for x in itertools.product(*[range(s) for s in dom.shape])
    )
    return inner - total * best


def test_matches_mbi_within_derived_bound():
    import jax

    jax.config.update("jax_enable_x64", True)  # mbi's float32 default would blur the comparison
    jax.config.update("jax_enable_compilation_cache", False)
    import mbi
    from mbi.estimation import MirrorDescent

    rng = np.random.default_rng(11)
    dom = Domain(tuple("abcd"), (3, 4, 2, 5))
    data = rng.integers(0, dom.shape, size=(400, 4))
    joint = np.zeros(dom.shape)
    np.add.at(joint, tuple(data.T), 1.0)
    cliques = [(a,) for a in dom.attrs] + [("a", "b"), ("b", "c"), ("d", "c"), ("a", "d")]
    sigma = 4.0
    ms = noisy_measurements(dom, joint, cliques, sigma, rng)

    ours = estimate(dom, ms, iters=3000, tol=1e-12)
    total = ours.total
    ref = MirrorDescent().estimate(
        mbi.Domain(dom.attrs, dom.shape),
        [mbi.LinearMeasurement(m.values, m.clique, m.sigma) for m in ms],
        known_total=total,
        iters=3000,
    )
    mu_ours = [ours.project(c) for c in cliques]
    mu_ref = [np.asarray(ref.project(c).datavector(flatten=False)) for c in cliques]
    # Both are feasible; the loss is 2·min(w)-strongly convex in the measured marginals,
    # so ‖μ − μ*‖₂² ≤ (L(μ) − L*)/min(w) ≤ gap/min(w) for each solution, and the two are
    # within the sum of these radii of each other.
    w_min = 1.0 / sigma**2
    radius = sum(
        math.sqrt(max(_frank_wolfe_gap(dom, ms, mus, total), 0.0) / w_min)
        for mus in (mu_ours, mu_ref)
    )
    assert radius < sigma / 10, "one of the solvers did not converge"
    dist = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(mu_ours, mu_ref, strict=True)))
    assert dist <= radius + 1e-9 * total
    # The fitted marginals stay close to the truth too (sanity check of the setup).
    assert all(
        np.abs(a - marginal(dom, joint, c)).max() < 5 * sigma
        for a, c in zip(mu_ours, cliques, strict=True)
    )
