"""Private-PGM estimation: fit a graphical model to noisy marginals by mirror descent.

McKenna, Sheldon, Miklau, "Graphical-model based estimation and inference for
differential privacy", ICML 2019 (arXiv:1901.09136). The estimate is

    μ̂ = argmin_{μ ∈ M} L(μ),   L(μ) = Σ_i ‖(μ_{C_i} − y_i) / σ_i‖²,

over the marginal polytope M of the model's junction tree (counts scaled to the total N).
Every μ in the relative interior of M is the marginal vector of a log-linear model with
potentials θ, so entropic mirror descent is gradient descent on θ (Alg. 1 of the paper):
θ ← θ − η ∇f(μ(θ)) with f = ½L (the Gaussian negative log-likelihood, the reference
implementation's convention) and μ(θ) computed by belief propagation. The step size
follows an Armijo backtracking rule (as in the reference implementation): a step is
accepted if f(μ) − f(μ') ≥ ½·η·⟨∇f(μ), μ − μ'⟩, then η grows by 1%; otherwise it is
rejected and η halves. Losses reported to callers are L itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.errors import InvalidParameterError
from dpsynth.pgm._dense import DenseJoint, engine
from dpsynth.pgm._domain import Clique, Domain, Measurement
from dpsynth.pgm._junction import junction_tree
from dpsynth.pgm._model import GraphicalModel, maximal_cliques

Callback = Callable[[int, float], None]

# Stopping rule: stop once the loss fell by at most tol × max(loss, 1) over this many
# iterations (a window, because a rejected line-search step changes nothing).
_WINDOW = 10
# Initial step as a multiple of the safe mirror step 1/(N·Σw) (see estimate).
_BOLD = 16.0
# Window (iterations) over which ``settle`` judges how far the measured marginals moved.
_SETTLE_WINDOW = 50
# Step growth after an accepted step (Private-PGM's 1%; faster growth did not converge
# faster on Adult, the tail being limited by small cells, not by the step).
_GROW = 1.01


@dataclass
class _Group:
    """All measurements of one clique, pooled (a sufficient statistic for the loss).

    Σ_k w_k‖μ − y_k‖² = W‖μ − ȳ‖² + const with W = Σ w_k, ȳ = Σ w_k y_k / W.
    """

    clique: Clique
    weight: float
    mean: np.ndarray
    const: float


def _pool(domain: Domain, measurements: Sequence[Measurement]) -> list[_Group]:
    acc: dict[Clique, list[tuple[np.ndarray, float]]] = {}
    for m in measurements:
        if not isinstance(m, Measurement):
            raise InvalidParameterError(
                f"measurements must be dpsynth.pgm.Measurement objects. Got {type(m).__name__}."
            )
        flat = m.flat_values(domain)
        canon = domain.canonical(m.clique)
        arr = flat.reshape(tuple(domain[a] for a in m.clique)).transpose(
            [m.clique.index(a) for a in canon]
        )
        acc.setdefault(canon, []).append((np.array(arr, order="C"), 1.0 / m.sigma**2))
    groups = []
    for canon, items in acc.items():
        w = sum(wk for _, wk in items)
        mean = sum(wk * y for y, wk in items) / w
        const = float(
            sum(wk * float(np.vdot(y, y)) for y, wk in items) - w * float(np.vdot(mean, mean))
        )
        groups.append(_Group(canon, w, np.asarray(mean, dtype=np.float64), max(const, 0.0)))
    return groups


def estimate_total(measurements: Sequence[Measurement]) -> float:
    """Minimum-variance unbiased estimate of the number of records, at least 1.

    Each measurement's sum estimates N with variance σ²·(number of cells); the estimates
    are averaged with inverse-variance weights (as Private-PGM does).
    """
    est = np.array([float(np.sum(m.values)) for m in measurements])
    var = np.array([m.sigma**2 * max(m.values.size, 1) for m in measurements])
    return max(1.0, float(np.average(est, weights=1.0 / var)))


def _lipschitz(domain: Domain, groups: Sequence[_Group]) -> float:
    """Lipschitz constant of ∇(½L) w.r.t. the marginals on the maximal measured cliques.

    The Hessian is block diagonal by maximal clique C; measurement c ⊆ C contributes
    w·|C|/|c| (the squared norm of summing C out to c), exact for identity measurements
    (same bound as Private-PGM's ``calculate_l2_lipschitz_from_metadata``).
    """
    tops = maximal_cliques([g.clique for g in groups])
    blocks: dict[Clique, float] = {}
    for g in groups:
        s = set(g.clique)
        top = min((c for c in tops if s <= set(c)), key=domain.size)
        blocks[top] = blocks.get(top, 0.0) + g.weight * domain.size(top) / domain.size(g.clique)
    return max(blocks.values())


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidParameterError(
            f"The {name!r} parameter of estimate must be an integer >= {minimum}. Got {value!r}."
        )
    return int(value)


def estimate(
    domain: Domain,
    measurements: Sequence[Measurement],
    *,
    total: float | None = None,
    iters: int = 1000,
    warm_start: GraphicalModel | None = None,
    cliques: Iterable[Iterable[str]] = (),
    tol: float | None = 1e-7,
    settle: float | None = None,
    callback: Callback | None = None,
) -> GraphicalModel:
    """Fit the graphical model that best explains noisy marginal measurements.

    Minimises Σ_i ‖(μ_{C_i} − y_i)/σ_i‖² over the marginal polytope by entropic mirror
    descent with an Armijo line search (McKenna et al. 2019, Alg. 1). Pure post-processing
    of already-private measurements.

    Args:
        domain: The attributes and their sizes.
        measurements: Noisy identity measurements of marginals (at least one).
        total: Number of records the model's marginals sum to; by default the
            inverse-variance weighted average of the measurements' sums, at least 1.
        iters: Maximum number of mirror-descent iterations (>= 0).
        warm_start: A model fitted earlier (e.g. before the last measurement was added):
            its potentials initialise this one's; cliques it lacks start at 0, its
            potentials that fit nowhere in the new structure are dropped.
        cliques: Extra cliques to include in the model's structure (e.g. AIM's candidates).
        tol: Stop early once the loss decreased by at most ``tol × max(loss, 1)`` over the
            last 10 iterations; ``None`` or 0 runs all ``iters``.
        settle: Also stop once the measured marginals moved by at most ``settle`` noise
            standard deviations over the last 50 iterations (root mean square over the
            measured cells, each in units of its own σ, repeated measurements pooled):
            the estimate then changes by far less than the noise it is fitted to, while
            mirror descent's slow tail would go on for hundreds of iterations. ``None``
            (the default) or 0 does not stop on it.
        callback: Called as ``callback(iteration, loss)`` after each iteration; it receives
            only these two numbers.

    Returns:
        The fitted :class:`GraphicalModel`; ``iterations_`` says how many iterations ran,
        ``loss_`` the final loss.

    Raises:
        InvalidParameterError: On no measurements, an unknown attribute, a bad sigma or
            parameter.
        InvalidDataError: On values of the wrong length or with NaN entries.
    """
    if not isinstance(domain, Domain):
        raise InvalidParameterError(
            f"domain must be a dpsynth.pgm.Domain. Got {type(domain).__name__}."
        )
    measurements = list(measurements)
    if not measurements:
        raise InvalidParameterError("estimate needs at least one measurement.")
    iters = _check_int(iters, "iters", 0)
    if tol is not None and (
        isinstance(tol, bool) or not isinstance(tol, int | float) or not tol >= 0
    ):
        raise InvalidParameterError(
            f"The 'tol' parameter of estimate must be a number >= 0 or None. Got {tol!r}."
        )
    if settle is not None and (
        isinstance(settle, bool) or not isinstance(settle, int | float) or not settle >= 0
    ):
        raise InvalidParameterError(
            f"The 'settle' parameter of estimate must be a number >= 0 or None. Got {settle!r}."
        )
    if warm_start is not None and not isinstance(warm_start, GraphicalModel):
        raise InvalidParameterError(
            f"warm_start must be a GraphicalModel. Got {type(warm_start).__name__}."
        )
    if warm_start is not None and warm_start.domain != domain:
        raise InvalidParameterError("warm_start was fitted on a different domain.")
    groups = _pool(domain, measurements)
    extra = [domain.canonical(c) for c in cliques]
    if total is None:
        n = estimate_total(measurements)
    else:
        if (
            isinstance(total, bool)
            or not isinstance(total, int | float)
            or not (math.isfinite(total) and total > 0)
        ):
            raise InvalidParameterError(
                f"The 'total' parameter of estimate must be a finite number > 0. Got {total!r}."
            )
        n = float(total)

    model_cliques = maximal_cliques([*(g.clique for g in groups), *extra])
    jtree = junction_tree(domain, model_cliques)
    jt_sets = [set(c) for c in jtree.cliques]

    # Potentials: one table per measured clique (updated), then warm-start tables on other
    # cliques that still fit in the tree (kept fixed: the loss has no gradient there).
    meas_cliques = [g.clique for g in groups]
    theta: list[np.ndarray] = [np.zeros(g.mean.shape) for g in groups]
    fixed_cliques: list[Clique] = []
    fixed: list[np.ndarray] = []
    if warm_start is not None:
        pos = {c: i for i, c in enumerate(meas_cliques)}
        for c, table in warm_start.potentials.items():
            if c in pos:
                theta[pos[c]] = theta[pos[c]] + table
            elif any(set(c) <= s for s in jt_sets):
                fixed_cliques.append(c)
                fixed.append(table)
    bp = engine(jtree, meas_cliques + fixed_cliques, meas_cliques)

    weights = [g.weight for g in groups]
    const = sum(g.const for g in groups)
    # The measured marginals, their targets and the potentials live in flat vectors (one
    # slice per measured clique) so that each step is a handful of vector operations.
    # The engine returns each marginal with its axes in its clique's order: arrange the
    # targets (and the potentials, which the gradient updates) in that order once.
    perms = [
        [g.clique.index(a) for a in order]
        for g, order in zip(groups, bp.target_orders, strict=True)
    ]
    native_shapes = [tuple(g.mean.shape[i] for i in p) for g, p in zip(groups, perms, strict=True)]
    inverse = [[p.index(i) for i in range(len(p))] for p in perms]
    bounds = np.cumsum([0] + [g.mean.size for g in groups])
    y = np.concatenate(
        [g.mean.transpose(p).reshape(-1) for g, p in zip(groups, perms, strict=True)]
    )
    w = np.concatenate([np.full(g.mean.size, g.weight) for g in groups])

    def tables(flat: np.ndarray) -> list[np.ndarray]:
        """Potentials in domain order (views into the flat, clique-ordered vector)."""
        return [
            flat[a:b].reshape(sh).transpose(inv)
            for a, b, sh, inv in zip(bounds[:-1], bounds[1:], native_shapes, inverse, strict=True)
        ]

    dense = bp.flat_evaluator(fixed, n) if isinstance(bp, DenseJoint) else None

    def evaluate(flat: np.ndarray) -> tuple[np.ndarray, float]:
        if dense is not None:
            mu = dense(flat)
        else:
            mu = np.concatenate([m.reshape(-1) for m in bp.run(tables(flat) + fixed, n, native=True)])
        r = mu - y
        return r, 0.5 * (float(np.einsum("i,i,i->", w, r, r)) + const)

    # Initial step. Private-PGM uses 2/(L·N), L the Euclidean Lipschitz constant of ∇L on
    # the marginals; with sub-cliques of big cliques measured, L grows with |C|/|c| and
    # the step is far too short (the line search then takes hundreds of 1% increases to
    # recover). The loss is also (N²·Σw)-smooth relative to the entropy of the joint
    # distribution (Hessian bound on the ℓ1 ball and Pinsker), so 1/(N·Σw) is a safe
    # mirror step; we start 16 times longer, which backtracking halves in a few
    # rejected iterations when too long. A warm start resumes from its final step.
    alpha = max(2.0 / (_lipschitz(domain, groups) * n), _BOLD / (n * sum(weights)))
    if warm_start is not None and math.isfinite(warm_start.step_size_):
        alpha = warm_start.step_size_

    flat = np.concatenate([t.transpose(p).reshape(-1) for t, p in zip(theta, perms, strict=True)])
    res, loss = evaluate(flat)
    history = [loss]
    accepted: list[bool] = []
    mark = res  # residuals (hence marginals, μ = r + y) at the start of the settle window
    it = 0
    for it in range(1, iters + 1):
        # Mirror step on the potentials: θ ← θ − α ∇L(μ), ∇L = w (μ − y) per clique.
        flat2 = flat - alpha * (w * res)
        res2, loss2 = evaluate(flat2)
        # Armijo: accept if L(μ) − L(μ') ≥ ½ α ⟨∇L(μ), μ − μ'⟩ (μ − μ' = r − r').
        decrease = float(np.einsum("i,i,i->", w, res, res - res2))
        ok = math.isfinite(loss2) and loss - loss2 >= 0.5 * alpha * decrease
        if ok:
            flat, res, loss = flat2, res2, loss2
            alpha *= _GROW
        else:
            alpha *= 0.5
        history.append(loss)
        accepted.append(ok)
        if callback is not None:
            callback(it, 2.0 * loss)
        # Converged: the loss barely moved over the window although steps were accepted
        # (a run of rejections only means the step is still being shortened).
        if (
            tol
            and it >= _WINDOW
            and any(accepted[-_WINDOW:])
            and history[-1 - _WINDOW] - loss <= tol * max(2.0 * loss, 1.0) / 2.0
        ):
            break
        if settle and it % _SETTLE_WINDOW == 0:
            # Δμ = Δr; w = 1/σ² per cell, so w·Δμ² is the move in noise units, squared.
            moved = math.sqrt(float(np.einsum("i,i,i->", w, res - mark, res - mark)) / res.size)
            if moved <= settle:
                break
            mark = res

    theta = [np.array(t, order="C") for t in tables(flat)]
    outs = bp.run(theta + fixed, n, keep=True)
    marginals = outs[len(meas_cliques) :]
    pots: dict[Clique, np.ndarray] = {}
    for c, t in zip(meas_cliques + fixed_cliques, theta + fixed, strict=True):
        pots[c] = t
    model = GraphicalModel._fitted(domain, model_cliques, pots, n, jtree, marginals)
    model.iterations_ = it
    model.loss_ = 2.0 * loss
    model.step_size_ = alpha
    return model
