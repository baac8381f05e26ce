"""AIM: an adaptive and iterative mechanism for synthetic data (McKenna et al., VLDB 2022).

AIM spends 90% of each round's budget measuring a marginal and 10% choosing which one,
picking the candidate whose current estimate is worst relative to the noise it would be
measured with (Alg. 1 line 9), limiting the graphical model's size so estimation stays
tractable (line 7), and halving the noise when a round changed the estimate less than the
noise would (lines 14–15). Estimation is warm-started from the previous round's model.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from dpsynth.data.private import Coarsening, PrivateData
from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import GraphicalModel, Measurement, estimate
from dpsynth.pgm._drift import LazyEstimates, ModelDrift
from dpsynth.pgm._junction import CandidateSizes
from dpsynth.privacy.random import RandomState
from dpsynth.progress import track
from dpsynth.synth.marginal import MarginalSynthesizer, check_int, compress_domain
from dpsynth.synth.mst import check_target_weight
from dpsynth.synth.registry import register

Clique = tuple[str, ...]


def default_workload(names: Sequence[str], degree: int = 3) -> list[Clique]:
    """All ``degree``-way marginals (the AIM paper's standard workload)."""
    return [tuple(c) for c in itertools.combinations(names, min(degree, len(names)))]


def candidate_weights(workload: Sequence[Clique], weights: Sequence[float]) -> dict[Clique, float]:
    """Downward closure of the workload, each candidate weighted by its overlap with it.

    w_r = Σ_s c_s · |r ∩ s| over workload marginals s with weight c_s (AIM, Sec. 4), computed
    as Σ_{a ∈ r} W_a with W_a = Σ_{s ∋ a} c_s (|r ∩ s| counts the a ∈ r that are in s).
    """
    closure: set[Clique] = set()
    per_attr: dict[str, float] = {}
    for cl, c in zip(workload, weights, strict=True):
        for a in cl:
            per_attr[a] = per_attr.get(a, 0.0) + float(c)
        for k in range(1, len(cl) + 1):
            closure.update(itertools.combinations(cl, k))
    return {
        r: float(math.fsum(per_attr[a] for a in r))
        for r in sorted(closure, key=lambda c: (len(c), c))
    }


def target_workload_weights(workload: Sequence[Clique], target: str | None, weight: float) -> list[float]:
    """Workload weights c_s: ``weight`` for the marginals that contain ``target``, 1 for the others.

    AIM's workload is weighted (AIM, Sec. 4: candidate r scores w_r = Σ_s c_s·|r ∩ s|);
    a declared target says which marginals the user's downstream task reads. Public: it
    depends on the column names and the metadata's target only.
    """
    return [weight if target is not None and target in c else 1.0 for c in workload]


def sample_workload(workload: Sequence[Clique], limit: int | None) -> list[Clique]:
    """At most ``limit`` marginals of the workload, drawn uniformly with a fixed public seed.

    Data-independent (as the reference implementation's ``num_marginals`` option): on wide
    tables the full 3-way workload has tens of thousands of marginals, each a candidate
    AIM would score every round.
    """
    if limit is None or len(workload) <= limit:
        return list(workload)
    keep = np.random.default_rng(0).choice(len(workload), size=limit, replace=False)
    return [workload[i] for i in sorted(keep)]


def _project_all(model: GraphicalModel, cliques: Sequence[Clique]) -> dict[Clique, np.ndarray]:
    """The model's marginal on every clique; one contained in a bigger one already computed is summed from it.

    Exact (a marginal of a marginal); out-of-model marginals cost a variable elimination
    each, a sum over a computed superset is far cheaper (AIM's candidates are the workload's
    downward closure, so most 2-way candidates lie inside a 3-way one).
    """
    out: dict[Clique, np.ndarray] = {}
    holder: dict[frozenset[str], Clique] = {}
    for c in sorted(cliques, key=len, reverse=True):
        s = frozenset(c)
        sup = holder.get(s)
        if sup is None:
            out[c] = model.project(c)
            if len(c) > 1:
                for k in range(1, len(c)):
                    for sub in itertools.combinations(c, k):
                        holder.setdefault(frozenset(sub), c)
            continue
        table = out[sup]
        summed = table.sum(axis=tuple(i for i, a in enumerate(sup) if a not in s))
        kept = [a for a in sup if a in s]
        out[c] = np.ascontiguousarray(summed.transpose([kept.index(a) for a in c]))
    return {c: out[c] for c in cliques}


@register("aim")
class AIM(MarginalSynthesizer):
    """AIM (McKenna, Mullins, Sheldon, Miklau 2022).

    Args:
        workload: Marginals the user cares about (column tuples); default: all 3-way ones.
        degree: Degree of the default workload.
        max_model_size: Largest graphical model allowed, in MB (the paper's 80).
        max_cells: Workload marginals with more cells than this are left out of the
            workload (the reference implementation's default, 10,000): they are too noisy
            to measure usefully and would steer selection toward them.
        max_workload: Keep at most this many workload marginals, drawn uniformly with a
            fixed public seed (None keeps all). The default only bites on tables wider than
            24 columns, whose full 3-way workload would make every round score tens of
            thousands of candidates.
        target_weight: Weight of the workload marginals that contain the metadata's
            ``target`` (≥ 1; the others weigh 1), so AIM favours what predicts the target.
            Opt-in: 1 (the default) or no declared target leaves the workload unweighted.
            A weight scales a candidate's score, penalty included, so it cannot make AIM
            measure a target marginal whose expected noise exceeds its error (one over a
            target with many bins).
        compress: Merge codes whose noisy one-way count is below 3σ before measuring
            anything else (MST's domain compression; not in the AIM paper).
        rounds: Initial number of rounds T; default 16·d (the paper's choice).
        max_rounds: At most this many adaptive rounds: when fewer remain than the budget
            was split for, each remaining round gets an equal share of what is left, and
            the last one measures with all the budget still left (nothing is left unspent;
            the privacy report says AIM stopped early).
        time_limit: Seconds the adaptive rounds may take: the rounds still fitting in it
            (judged by the last round's duration) share the budget left as with
            ``max_rounds``, and once the next round would end past the limit it measures
            with all the budget still left. The final estimation runs after it. The
            number of rounds then depends on the machine's speed, so two fits with one
            seed may differ.
        iters: Estimation iterations per round (warm-started, so few are needed).
        round_tol: Tolerance of each round's estimation (see :func:`dpsynth.pgm.estimate`'s
            ``tol``): a round's model only steers the next selection and warm-starts the
            next estimation, so it stops once the loss barely moves; the final
            estimation keeps the estimator's default tolerance.
        final_iters: Most iterations of the last estimation.
        final_settle: The last estimation stops once the measured marginals moved by at
            most this many noise standard deviations (RMS over the measured cells) in 50
            iterations (:func:`dpsynth.pgm.estimate`'s ``settle``): on large models the
            tail of mirror descent takes most of the fit for changes far below the
            noise. ``None`` runs all ``final_iters``.
        lazy_selection: Compute the model's marginal only on the candidates that could
            still win the round's selection (bounded by their error when last computed
            plus how far the model can have moved since): the same selection, for the
            same noise, as scoring every candidate, at a fraction of the cost on wide
            tables; the model-size limit is likewise checked only for those candidates.
            ``False`` scores every candidate (to check the equivalence).
            ``selection_stats_`` counts, over the rounds, the candidates outside the
            model's cliques that were offered (within the size limit or not) and how many
            of them had the model's marginal computed.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(
        self,
        *,
        workload: Sequence[Sequence[str]] | None = None,
        degree: int = 3,
        max_model_size: float = 80.0,
        max_cells: int = 10_000,
        max_workload: int | None = 2048,
        target_weight: float = 1.0,
        compress: bool = False,
        rounds: int | None = None,
        max_rounds: int | None = None,
        time_limit: float | None = None,
        iters: int = 100,
        round_tol: float = 1e-7,
        final_iters: int = 1000,
        final_settle: float | None = 0.025,
        lazy_selection: bool = True,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.workload = workload
        self.degree = degree
        self.max_model_size = max_model_size
        self.max_cells = max_cells
        self.max_workload = max_workload
        self.target_weight = target_weight
        self.compress = compress
        self.rounds = rounds
        self.max_rounds = max_rounds
        self.time_limit = time_limit
        self.iters = iters
        self.round_tol = round_tol
        self.final_iters = final_iters
        self.final_settle = final_settle
        self.lazy_selection = lazy_selection

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int(self.degree, "degree", "AIM")
        check_positive(self.max_model_size, "max_model_size", "AIM")
        check_int(self.max_cells, "max_cells", "AIM")
        check_target_weight(self.target_weight, "AIM")
        if self.max_workload is not None:
            check_int(self.max_workload, "max_workload", "AIM")
        if self.rounds is not None:
            check_int(self.rounds, "rounds", "AIM")
        if self.max_rounds is not None:
            check_int(self.max_rounds, "max_rounds", "AIM")
        if self.time_limit is not None:
            check_positive(self.time_limit, "time_limit", "AIM")
        check_int(self.iters, "iters", "AIM")
        check_positive(self.round_tol, "round_tol", "AIM")
        check_int(self.final_iters, "final_iters", "AIM")
        if self.final_settle is not None:
            check_positive(self.final_settle, "final_settle", "AIM")
        if not isinstance(self.lazy_selection, bool):
            raise InvalidParameterError(
                f"The 'lazy_selection' parameter of AIM must be True or False. Got {self.lazy_selection!r}."
            )
        if self.workload is not None and (
            isinstance(self.workload, str) or not all(len(c) > 0 for c in self.workload)
        ):
            raise InvalidParameterError(
                "The 'workload' parameter of AIM must be a list of column tuples, e.g. [('age', 'sex')]."
            )

    def _fit(self, data: PrivateData) -> None:
        start = time.monotonic()
        names = list(data.domain.names)
        d = len(names)
        dom = data.pgm_domain
        workload = (
            default_workload(names, self.degree)
            if self.workload is None
            else [tuple(c) for c in self.workload]
        )
        unknown = sorted({a for c in workload for a in c} - set(names))
        if unknown:
            raise InvalidParameterError(f"AIM's workload names unknown column(s) {unknown}.")
        rho = data.rho_left("aim")
        rounds = self.rounds if self.rounds is not None else 16 * d
        alpha = 0.9  # share of each round's budget spent on measurement (AIM, Sec. 4)
        sigma = math.sqrt(rounds / (2.0 * alpha * rho))
        epsilon = math.sqrt(8.0 * (1.0 - alpha) * rho / rounds)

        workload = [c for c in workload if dom.size(c) <= self.max_cells] or [(n,) for n in names]
        workload = sample_workload(workload, self.max_workload)
        target = data.domain.target if data.domain.target in names else None
        cands = candidate_weights(workload, target_workload_weights(workload, target, self.target_weight))

        # Initialisation: every one-way marginal at the initial σ (Alg. 1 line 3).
        log: list[Measurement] = data.measure_marginals(
            [(n,) for n in names], sigma=sigma, step="aim.init"
        )
        coarsen = None
        if self.compress:
            # Domain compression as in MST (post-processing of the one-way answers): every
            # later marginal is measured on fewer, better-populated cells.
            coarsen, dom, log = compress_domain(dom, log, sigma)
        model = estimate(dom, log, iters=self.iters, tol=self.round_tol)
        with track("AIM: budget spent", total=1.0) as progress:
            model = self._rounds(
                data, dom, log, model, cands, coarsen, rho, sigma, epsilon, alpha, progress, start
            )
        self.model_ = estimate(
            dom, log, iters=self.final_iters, warm_start=model, settle=self.final_settle
        )
        self.coarsen_ = coarsen

    def _rounds(
        self,
        data: PrivateData,
        dom: PGMDomain,
        log: list[Measurement],
        model: GraphicalModel,
        cands: dict[Clique, float],
        coarsen: Coarsening | None,
        rho: float,
        sigma: float,
        epsilon: float,
        alpha: float,
        progress: Callable[[float], None],
        start: float,
    ) -> GraphicalModel:
        """AIM's adaptive rounds (Alg. 1 lines 5–19); appends to ``log``, returns the model."""
        terminate = False
        done = 0
        limited: str | None = None  # the option that cut the rounds short, if any
        last = 0.0  # duration of the last round, to foresee the next one
        names = list(cands)
        weights = np.array([cands[c] for c in names])
        # Lazy selection needs the data side's support (PrivateData); other measurement
        # interfaces get every estimate, as a dict.
        lazy = self.lazy_selection and isinstance(data, PrivateData)
        drift = ModelDrift(names if lazy else [])
        if lazy:
            drift.advance(model)
        stats = {"out_of_clique_candidates": 0, "out_of_clique_computed": 0}
        cells = np.array([dom.size(c) for c in names], dtype=np.float64)
        prev_sizes: CandidateSizes | None = None
        while not terminate:
            began = time.monotonic()
            remaining = data.accountant.rho_remaining
            planned = self._rounds_left(done, began - start, last)
            if planned is not None and remaining / planned > 1.0 / (2.0 * sigma**2) + epsilon**2 / 8.0:
                # Fewer rounds fit than the budget was split for: spread what is left over
                # them (less noise each), rather than leave it all to the last round.
                sigma = math.sqrt(planned / (2.0 * alpha * remaining))
                epsilon = math.sqrt(8.0 * (1.0 - alpha) * remaining / planned)
                limited = limited or (
                    "max_rounds" if self.max_rounds is not None and self.max_rounds - done <= planned else "time_limit"
                )
            cost = 1.0 / (2.0 * sigma**2) + epsilon**2 / 8.0
            early = (self.max_rounds is not None and done + 1 >= self.max_rounds) or (
                self.time_limit is not None and began + last - start >= self.time_limit
            )
            if remaining < 2.0 * cost or early:
                # Last round spends exactly what is left (Alg. 1 lines 17–19).
                sigma = math.sqrt(1.0 / (2.0 * alpha * remaining))
                epsilon = math.sqrt(8.0 * (1.0 - alpha) * remaining)
                terminate = True
                if early:
                    limited = limited or (
                        "max_rounds"
                        if self.max_rounds is not None and done + 1 >= self.max_rounds
                        else "time_limit"
                    )
            spent_after = rho - remaining + 1.0 / (2.0 * sigma**2) + epsilon**2 / 8.0
            size_limit = self.max_model_size * spent_after / rho
            # Candidates whose addition keeps the model under the size limit (Alg. 1 line 7;
            # public: it depends on the selected cliques and the domain only). A candidate
            # that adds no edge has the model's own size, and every one-way marginal is such
            # a candidate, so either the model fits and those are admissible, or only the
            # one-way marginals are offered. The lazy path asks the (costly) size only of
            # the candidates that could win.
            sizes = CandidateSizes(dom, [m.clique for m in log])
            if prev_sizes is not None and prev_sizes.edges == sizes.edges:
                sizes = prev_sizes  # the same model graph: the sizes asked before still hold
            prev_sizes = sizes
            admissible: Callable[[int], bool] | None
            if sizes.base_mb > size_limit:
                idx = np.flatnonzero([len(c) == 1 for c in names])
                admissible = None
            else:
                idx = np.arange(len(names))
                if lazy:
                    def admissible(i: int, _s: CandidateSizes = sizes, _lim: float = size_limit) -> bool:
                        return _s(names[i]) <= _lim
                else:
                    fits = np.array([sizes(c) for c in names]) <= size_limit
                    admissible = fits.__getitem__
            small = [names[i] for i in idx]
            penalties = math.sqrt(2.0 / math.pi) * sigma * cells[idx]
            estimates: dict[Clique, np.ndarray] | LazyEstimates
            if lazy:
                estimates = LazyEstimates(drift, small)
            else:
                allowed = small if admissible is None else [c for i, c in enumerate(small) if admissible(i)]
                estimates = _project_all(model, allowed)
            pick = small[
                data.select_marginal(
                    small,
                    estimates,
                    epsilon=epsilon,
                    penalties=list(penalties),
                    weights=list(weights[idx]),
                    step="aim.select",
                    coarsen=coarsen,
                    admissible=admissible,
                )
            ]
            log += data.measure_marginals([pick], sigma=sigma, step="aim.measure", coarsen=coarsen)
            before = estimates[pick]
            if isinstance(estimates, LazyEstimates):
                stats["out_of_clique_candidates"] += sum(not estimates.in_clique(c) for c in small)
                stats["out_of_clique_computed"] += estimates.computed
            model = estimate(dom, log, iters=self.iters, warm_start=model, tol=self.round_tol)
            if lazy:
                drift.advance(model)
            after = model.project(pick)
            # Anneal: if the new measurement barely moved the estimate, halve σ (lines 14–15).
            if np.abs(after - before).sum() <= math.sqrt(2.0 / math.pi) * sigma * dom.size(pick):
                sigma /= 2.0
                epsilon *= 2.0
            done += 1
            last = time.monotonic() - began
            progress(1.0 - data.accountant.rho_remaining / rho)
        self.selection_stats_ = stats
        if limited is not None:
            data.accountant.notes.append(
                f"AIM stopped early ({limited}) after {done} adaptive rounds: the budget left was "
                "shared by the rounds that fit and the last round spent all that remained."
            )
        return model

    def _rounds_left(self, done: int, elapsed: float, last: float) -> int | None:
        """Rounds still allowed by ``max_rounds`` and (judged by the last round) ``time_limit``."""
        left = None if self.max_rounds is None else max(1, self.max_rounds - done)
        # Not judged by the first round: it also counts every candidate's true marginal once.
        if self.time_limit is not None and done > 1 and last > 0:
            fit = max(1, int((self.time_limit - elapsed) / last))
            left = fit if left is None else min(left, fit)
        return left
