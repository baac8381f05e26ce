"""Worst-case auditing: adversarial neighbouring datasets, white-box features, μ-GDP bounds.

A membership game on real data (:mod:`dpsynth.audit.game`) measures the average case and is
loose by design. This module measures the worst case instead, as Ganev, Annamalai and
Kulynych ("Tight Auditing of Differential Privacy in MST and AIM", 2026) do:

1. **An adversarial pair of neighbouring datasets.** D⁻ is ten rows of (0, 0, 0) over three
   binary columns; D⁺ is D⁻ plus one row (1, 1, 1). The extra row lands, alone, in the one
   cell of every marginal, query box or vote bin that D⁻ leaves empty, so it moves every
   answer a generator measures by the full sensitivity, with nothing else to hide behind.
   This is the pair used for the marginal methods (independent, MST, AIM), and also for GSD
   (its counting queries) and PE (its nearest-neighbour votes), whose statistics it
   maximises the same way. DP-SGD generators are audited with Dirac gradient canaries
   (:func:`dpsynth.audit.audit_dpsgd_canaries`) instead.
2. **Thousands of fits per side.** Each run fits the generator on D⁻ or D⁺ with its own seed
   (joblib workers; every finished block of runs is appended to a JSON-lines file, so an
   interrupted audit resumes where it stopped).
3. **Features.** *Black-box*: the counts of the 8 row patterns in ``n_synth`` synthetic rows,
   scored by a logistic regression trained on half the runs and evaluated on the other half.
   *White-box*: every noisy answer the fit released through ``PrivateData`` (marginals, query
   answers, vote histograms: the transcript the fitted model is computed from), scored by the
   Neyman–Pearson log-likelihood ratio of D⁺ against D⁻ for Gaussian noise at the stated σ,
   Σ Δ·(y − m⁻)/σ² − ‖Δ‖²/(2σ²) with m⁻ the true answers on D⁻ and Δ = m⁺ − m⁻, plus, for
   each marginal selection (MST's tree, AIM's rounds), log P(choice | D⁺) / P(choice | D⁻) of
   the exponential mechanism given the same released estimates: the likelihood ratio of the
   whole transcript. (GSD's query selections are not scored: its statistic reads its
   measurements only.) Its threshold
   (0) is fixed before any run, so no threshold is chosen on the data; a score exactly at the
   threshold (discrete noise makes ties) is called with probability ½ (a randomised test).
4. **Bounds.** At the threshold, the false-positive and false-negative rates give a point of
   the empirical trade-off curve. A μ-GDP mechanism has FNR ≥ Φ(Φ⁻¹(1 − FPR) − μ), so
   μ ≥ Φ⁻¹(1 − FPR) − Φ⁻¹(FNR). The Clopper–Pearson bound plugs in the exact binomial upper
   bounds of both rates (each at 1 − α/2: union bound); the Bayesian one is the α-quantile of
   the posterior of μ under Jeffreys priors (Zanella-Béguelin et al. 2023). ε at the claimed
   δ is reported two ways: the μ bound converted with the GDP formula (assumes the trade-off
   curve is Gaussian-shaped, as for the Gaussian mechanisms these generators are built from),
   and the assumption-free bound over all thresholds of the scores
   (:func:`dpsynth.audit.epsilon.epsilon_from_scores`, Bonferroni over thresholds). The two
   feature sets share α (Bonferroni).

**Claimed μ and tightness.** For generators whose privacy report states a μ-GDP guarantee
(pure compositions of Gaussian mechanisms, e.g. ``independent``) μ_claimed is that figure and
a bound above it is a violation. For the others (MST and AIM also spend budget on
exponential-mechanism selections, which zCDP accounts for but GDP does not bound) μ_claimed is
√(2ρ), the μ of Gaussian mechanisms that cost the fit's ρ: a reference, not a guarantee, and
only the ε bound decides a violation. Tightness is μ_lb / μ_claimed.

**Verdict** (as in the membership audit): ``"violation"`` when a bound exceeds the claim
(ε lower bound > claimed ε, or μ lower bound > a stated μ-GDP guarantee) at confidence 1 − α;
``"consistent"`` when nothing exceeds it and the white-box Clopper–Pearson bound reaches at
least half of μ_claimed (the attack demonstrably extracts most of what the claim allows);
``"inconclusive"`` otherwise.

What this proves: on this pair, with these features, no leak above the bound's confidence.
The pair is worst-case for the counting statistics these generators measure; it is not a
proof that no other pair or feature leaks more (only the accounting proves the guarantee).

The audit fits generators on its own synthetic pair and reads no user data. Fits are seeded
for reproducibility: that is right for an audit and wrong for a release.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import norm

from dpsynth.audit._private import open_private, private_dir, write_private
from dpsynth.audit.epsilon import Verdict, clopper_pearson_upper, epsilon_from_scores
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidDataError, InvalidParameterError

#: Generator families whose worst case is the 3-binary-column pair.
PAIR_FAMILIES = {"independent": "marginal", "mst": "marginal", "aim": "marginal", "gsd": "queries", "pe": "votes"}
#: DP-SGD generators: audited with Dirac gradient canaries instead.
DPSGD_GENERATORS = ("tldm", "ctabgan")

COLUMNS = ("a", "b", "c")
WORST_CASE_METADATA: dict[str, Any] = {
    "name": "worst_case_pair",
    "columns": [{"name": c, "type": "categorical", "categories": [0, 1]} for c in COLUMNS],
}

#: ``factory(seed) -> unfitted Synthesizer``.
Factory = Callable[[int], Any]


@dataclass(frozen=True)
class WorstCasePair:
    """D⁻ and D⁺ = D⁻ + target, over a public domain."""

    minus: pd.DataFrame
    plus: pd.DataFrame
    domain: Domain
    target: tuple[int, ...]


#: D⁻ of the pairs by name, as counts of the 8 row patterns (a, b, c) = 000, 001, …, 111
#: (``None``: ``n_minus`` rows of zeros). ``"selection"`` is for MST's and AIM's exponential-
#: mechanism selections (see :func:`worst_case_pair`).
PAIRS: dict[str, tuple[int, ...] | None] = {
    "zeros": None,
    "selection": (5, 25, 5, 5, 5, 5, 25, 5),
}


def worst_case_pair(n_minus: int = 10, *, kind: str = "zeros") -> WorstCasePair:
    """The neighbouring pair D⁻, D⁺ = D⁻ + (1, 1, 1) over three binary columns.

    ``kind="zeros"``: D⁻ is ``n_minus`` rows of zeros; the target lands alone in the empty
    cell of every marginal, the worst case for every Gaussian measurement (each moves by the
    full sensitivity). It barely exercises a marginal *selection*: every pair's score moves
    alike when the target is added, so the exponential mechanism's choice hardly changes.

    ``kind="selection"``: D⁻ is 80 rows in which a and b go together and a and c go apart
    (each value held by 40 rows, so MST's domain compression keeps both codes of every
    column): the target's cell (1, 1) is over-full in the (a, b) marginal and under-full in
    (a, c), so adding it moves those candidates' scores ‖M − e‖₁ in opposite directions by
    the full sensitivity — the exponential mechanism's worst case. Every Gaussian
    measurement still moves by the full sensitivity (one cell by one count). The three
    pairs' scores are equal on D⁻ (balanced choices are where a score change shows most).
    ``n_minus`` of 160 or more scales the 80 rows by ``n_minus // 80`` (same proportions,
    scores still equal): at small δ the one-way noise is large and 40-row codes would be
    merged by MST's domain compression; below 160 it is ignored.
    """
    if kind not in PAIRS:
        raise InvalidParameterError(f"Unknown pair {kind!r}. Choose one of {sorted(PAIRS)}.")
    if isinstance(n_minus, bool) or not isinstance(n_minus, int) or n_minus < 1:
        raise InvalidParameterError(f"The 'n_minus' parameter must be an integer >= 1. Got {n_minus!r}.")
    patterns = PAIRS[kind]
    if patterns is None:
        minus = pd.DataFrame(np.zeros((n_minus, len(COLUMNS)), dtype=np.int64), columns=list(COLUMNS))
    else:
        scale = max(1, n_minus // sum(patterns))
        codes = np.repeat(np.arange(2 ** len(COLUMNS)), [scale * k for k in patterns])
        bits = (codes[:, None] >> np.arange(len(COLUMNS))[::-1]) & 1
        minus = pd.DataFrame(bits.astype(np.int64), columns=list(COLUMNS))
    target = (1,) * len(COLUMNS)
    plus = pd.concat([minus, pd.DataFrame([target], columns=list(COLUMNS))], ignore_index=True)
    return WorstCasePair(minus, plus, Domain.from_json(WORST_CASE_METADATA), target)


# -- the white-box transcript --------------------------------------------------------------
class TranscriptData(PrivateData):
    """``PrivateData`` that also scores every noisy answer a fit releases (audit only).

    It behaves exactly like :class:`PrivateData` (same charges, same noise); after each
    Gaussian release it adds the release's log-likelihood ratio of D⁺ against D⁻ to
    :attr:`llr` and its ‖Δ‖²/σ² to :attr:`info` (the μ² that release alone could reveal).
    ``twins`` are unbound copies of D⁻ and D⁺ on which the true answers are computed.
    """

    def __init__(self, table: Any, domain: Domain, *, twins: tuple[PrivateData, PrivateData]) -> None:
        super().__init__(table, domain)
        self._twins = twins
        self._scores: dict[str, float] = {"llr": 0.0, "info": 0.0, "releases": 0.0}
        # The true (noiseless) marginals of this fixed table, shared by every fit's view: a
        # fit binds a fresh view whose cache starts empty, and recounting the same rows for
        # each of thousands of fits is a large part of a small fit's time. Same counts, same
        # noise: the transcript is unchanged. Used only while the view still holds this very
        # table (domain inference would replace it).
        self._shared_cache: dict[Any, np.ndarray] = {}
        self._shared_table = self._table

    def bind(self, accountant: Any, noise: Any) -> PrivateData:  # noqa: D102 - as PrivateData
        view = super().bind(accountant, noise)
        view.__class__ = type(self)
        view._twins = self._twins  # type: ignore[attr-defined]
        view._scores = self._scores  # type: ignore[attr-defined]
        view._shared_cache = self._shared_cache  # type: ignore[attr-defined]
        view._shared_table = self._shared_table  # type: ignore[attr-defined]
        return view

    def _true_marginals(self, cliques: Sequence[Any], coarsen: Any = None) -> list[np.ndarray]:
        if self._table is not self._shared_table:
            return super()._true_marginals(cliques, coarsen)
        for c in cliques:
            if c in self._shared_cache and c not in self._cache:
                self._cache[c] = self._shared_cache[c]
        out = super()._true_marginals(cliques, coarsen)
        for c in cliques:
            self._shared_cache.setdefault(c, self._cache[c])
        return out

    def reset(self) -> None:
        """Start a new transcript (before the next fit)."""
        self._scores = {"llr": 0.0, "info": 0.0, "releases": 0.0, "llr_select": 0.0}

    @property
    def llr(self) -> float:
        """Σ over releases of the Gaussian log-likelihood ratio log p(y | D⁺) / p(y | D⁻)."""
        return self._scores["llr"]

    @property
    def llr_select(self) -> float:
        """Σ over marginal selections of log P(choice | D⁺) / P(choice | D⁻) (exponential mechanism)."""
        return self._scores.get("llr_select", 0.0)

    @property
    def info(self) -> float:
        """Σ ‖Δ‖²/σ²: the μ² of the releases were they non-adaptive Gaussian mechanisms."""
        return self._scores["info"]

    def _note(self, noisy: np.ndarray, minus: np.ndarray, plus: np.ndarray, sigma: float) -> None:
        d = np.asarray(plus, dtype=float).ravel() - np.asarray(minus, dtype=float).ravel()
        y = np.asarray(noisy, dtype=float).ravel() - np.asarray(minus, dtype=float).ravel()
        s2 = float(sigma) ** 2
        self._scores["llr"] += float(d @ y) / s2 - float(d @ d) / (2.0 * s2)
        self._scores["info"] += float(d @ d) / s2
        self._scores["releases"] += 1.0

    def note_marginals(self, cliques: Sequence[Any], coarsen: Any, measurements: Sequence[Any]) -> None:
        """Score measured marginals (called by :meth:`measure_marginals`)."""
        cl = [tuple(c) for c in cliques]
        lo, hi = (t._true_marginals(cl, coarsen) for t in self._twins)
        for m, a, b in zip(measurements, lo, hi, strict=True):
            self._note(m.values, a, b, m.sigma)

    def measure_marginals(self, cliques: Any, *, sigma: float, step: str, coarsen: Any = None) -> Any:  # noqa: D102
        out = super().measure_marginals(cliques, sigma=sigma, step=step, coarsen=coarsen)
        self.note_marginals(cliques, coarsen, out)
        return out

    def select_marginal(  # noqa: D102 - as PrivateData
        self, candidates: Sequence[Any], estimates: Any, *, epsilon: float, penalties: Any = None,
        weights: Any = None, step: str, coarsen: Any = None, admissible: Any = None,
    ) -> int:
        from scipy.special import logsumexp

        idx = super().select_marginal(
            candidates, estimates, epsilon=epsilon, penalties=penalties, weights=weights, step=step, coarsen=coarsen,
            admissible=admissible,
        )
        # The exponential mechanism picks r with probability ∝ exp(ε·q_r/(2Δ)) (Gumbel-max in
        # ExponentialMechanism.select); the choice's likelihood ratio uses the same scores
        # computed on each twin, given the same (released) estimates.
        cands = [tuple(c) for c in candidates]
        w = np.ones(len(cands)) if weights is None else np.asarray(weights, dtype=float)
        pen = np.zeros(len(cands)) if penalties is None else np.asarray(penalties, dtype=float)
        # Candidates outside the public limit have probability 0 on both twins.
        ok = np.array([admissible is None or bool(admissible(i)) for i in range(len(cands))])
        logp = []
        for t in self._twins:
            q = np.array([
                wi * (np.abs(m.ravel() - np.asarray(estimates[c]).ravel()).sum() - p) if ok[i] else -np.inf
                for i, (c, m, wi, p) in enumerate(zip(cands, t._true_marginals(cands, coarsen), w, pen, strict=True))
            ])
            logits = epsilon * q / (2.0 * float(w[ok].max()))
            logp.append(float(logits[idx] - logsumexp(logits)))
        self._scores["llr_select"] = self._scores.get("llr_select", 0.0) + logp[1] - logp[0]
        return idx

    def answer_queries(self, workload: Any, *, sigma: float, step: str, select: Any = None) -> Any:  # noqa: D102
        from dpsynth.data import queries as q

        ans = super().answer_queries(workload, sigma=sigma, step=step, select=select)
        compiled = workload if isinstance(workload, q.CompiledWorkload) else q.CompiledWorkload(
            self.domain, list(workload) if isinstance(workload, list | tuple) else [workload]
        )
        lo, hi = (q.true_counts(q.private_rows(t._table, self.domain), compiled) for t in self._twins)
        for g, values, s in zip(ans.groups, ans.values, ans.sigmas, strict=True):
            self._note(values, lo[g], hi[g], s)
        return ans

    def nearest_neighbour_votes(  # noqa: D102
        self, embed: Any, candidates: np.ndarray, *, sigma: float, step: str,
        candidate_groups: Any = None, group_column: str | None = None,
    ) -> np.ndarray:
        from dpsynth.data.domain import category_key
        from dpsynth.pe._votes import check_candidates, nearest_neighbour_counts

        out = super().nearest_neighbour_votes(
            embed, candidates, sigma=sigma, step=step, candidate_groups=candidate_groups, group_column=group_column
        )
        cand = check_candidates(candidates)
        groups = None
        if group_column is not None and candidate_groups is not None:
            groups = np.array([category_key(g) for g in candidate_groups], dtype=object)
        counts = []
        for t in self._twins:
            frame = t._table.to_frame(self.domain)
            rows = None
            if group_column is not None:
                rows = np.array(
                    ["" if v is None or v != v else category_key(v) for v in frame[group_column]], dtype=object
                )
            counts.append(nearest_neighbour_counts(embed, frame, cand, candidate_groups=groups, row_groups=rows))
        self._note(out, counts[0], counts[1], sigma)
        return out


# -- one run ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    """Everything a worker needs for a run (picklable)."""

    generator: str | Factory
    params: dict[str, Any]
    epsilon: float
    delta: float
    n_synth: int
    n_minus: int
    data_class: type[TranscriptData]
    pair: str = "zeros"


def _factory(spec: _Spec, seed: int) -> Any:
    if callable(spec.generator):
        return spec.generator(seed)
    from dpsynth.synth import create

    return create(spec.generator, random_state=seed, **spec.params)


def _patterns(frame: pd.DataFrame) -> list[int]:
    x = np.asarray(frame[list(COLUMNS)].astype(int).to_numpy()) if len(frame) else np.zeros((0, 3), int)
    idx = x @ (1 << np.arange(len(COLUMNS))[::-1])
    return [int(v) for v in np.bincount(idx, minlength=2 ** len(COLUMNS))]


def measurement_rho(report: Any) -> float:
    """The zCDP ρ a fit's ledger charges for its Gaussian measurements (selections excluded).

    Every entry released with (discrete, lattice or continuous) Gaussian noise counts; the
    exponential-mechanism selections, Laplace releases and subsampled DP-SGD steps do not.
    √(2ρ) of this figure is the μ the measurement part of the fit claims (Gaussian
    mechanisms compose to μ-GDP with μ² = Σ Δ²/σ² = 2ρ, adaptively chosen σ included).
    """
    total = 0.0
    for e in report.ledger:
        kind = str(e.mechanism).lower()
        if e.rho is not None and "gaussian" in kind and "subsampled" not in kind:
            total += float(e.rho)
    return total


def _runs(spec: _Spec, entropy: int, jobs: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
    from dpsynth.privacy import PrivacyBudget

    pair = worst_case_pair(spec.n_minus, kind=spec.pair)
    # Built once per block: the tables and the twins' true answers (cached) are reused; each
    # fit binds its own view, and the transcript scores are reset per run.
    twins = (PrivateData(pair.minus, pair.domain), PrivateData(pair.plus, pair.domain))
    sides = [spec.data_class(pair.minus, pair.domain, twins=twins), spec.data_class(pair.plus, pair.domain, twins=twins)]
    out = []
    for side, run in jobs:
        c0 = time.process_time()
        seed = int(np.random.SeedSequence(entropy, spawn_key=(side, run)).generate_state(1)[0] % (2**31 - 2))
        data = sides[side]
        data.reset()
        model = _factory(spec, seed)
        with warnings.catch_warnings():
            # D⁻ has 10 rows: the "δ not far below 1/n" advice is for releases, not this pair.
            warnings.simplefilter("ignore", UserWarning)
            model.fit(data, PrivacyBudget(spec.epsilon, spec.delta))
        synth = model.sample(spec.n_synth, random_state=seed + 1)
        report = model.privacy_report
        out.append({
            "side": side, "run": run, "entropy": entropy, "llr": data.llr, "info": data.info,
            "llr_select": data.llr_select,
            "patterns": _patterns(synth), "rho": report.rho, "mu": report.mu,
            "rho_measurements": measurement_rho(report),
            "cpu_s": time.process_time() - c0,
        })
    return out


# -- bounds ----------------------------------------------------------------------------------
def mu_from_rates(fpr: Any, fnr: Any) -> Any:
    """μ of the Gaussian trade-off curve through (FPR, FNR): Φ⁻¹(1 − FPR) − Φ⁻¹(FNR), ≥ 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = norm.isf(np.asarray(fpr, dtype=float)) - norm.ppf(np.asarray(fnr, dtype=float))
    out = np.fmax(np.nan_to_num(mu, nan=0.0, posinf=np.inf, neginf=0.0), 0.0)
    return float(out) if np.ndim(out) == 0 else out


def mu_lower_bounds(
    tp: int, fn: int, fp: int, tn: int, *, alpha: float = 0.05, n_samples: int = 200_000, random_state: int = 0
) -> tuple[float, float, float]:
    """(point estimate, Clopper–Pearson bound, Bayesian bound) on μ from one confusion matrix.

    Clopper–Pearson: the one-sided upper bounds of FPR and FNR, each at 1 − α/2 (both hold
    together with probability ≥ 1 − α), plugged into :func:`mu_from_rates`. Bayesian: the
    α-quantile of μ under the Jeffreys posteriors FPR ~ Beta(FP + ½, TN + ½),
    FNR ~ Beta(FN + ½, TP + ½). Zero counts stay finite (largest bound: a perfect attack).
    """
    if min(tp + fn, fp + tn) < 1:
        raise InvalidParameterError("Need runs on both sides to bound μ.")
    fpr_hat = (fp + 0.5) / (fp + tn + 1.0) if fp == 0 else fp / (fp + tn)
    fnr_hat = (fn + 0.5) / (fn + tp + 1.0) if fn == 0 else fn / (fn + tp)
    point = float(mu_from_rates(fpr_hat, fnr_hat))
    level = 1.0 - alpha / 2.0
    cp = float(mu_from_rates(clopper_pearson_upper(fp, fp + tn, level), clopper_pearson_upper(fn, fn + tp, level)))
    rng = np.random.default_rng(random_state)
    draws = mu_from_rates(rng.beta(fp + 0.5, tn + 0.5, n_samples), rng.beta(fn + 0.5, tp + 0.5, n_samples))
    return point, cp, float(np.quantile(draws, alpha))


def epsilon_at_delta(mu: float, delta: float) -> float:
    """The ε at which a μ-GDP mechanism is (ε, δ)-DP (0 for μ = 0)."""
    from dpsynth.privacy.fdp import epsilon_for_delta

    if not mu > 0:
        return 0.0
    if not math.isfinite(mu):
        return math.inf
    return float(epsilon_for_delta(delta, min(mu, 38.0)))


@dataclass(frozen=True)
class FeatureBound:
    """The bounds from one feature set (``"white_box"`` or ``"black_box"``).

    Attributes:
        features: The feature set.
        runs: Runs per side scored (the black-box half held out for evaluation).
        tp, fn, fp, tn: Confusion matrix at the fixed threshold ("member" = D⁺).
        mu_hat: Point estimate of μ at that threshold.
        mu_lb_cp: Clopper–Pearson lower bound on μ (confidence 1 − alpha).
        mu_lb_bayes: Bayesian lower credible bound on μ.
        epsilon_lb_cp: ``mu_lb_cp`` as ε at the claimed δ (GDP-shaped curve).
        epsilon_lb_bayes: ``mu_lb_bayes`` as ε at the claimed δ.
        epsilon_lb_curve: Assumption-free ε lower bound over all thresholds (Clopper–Pearson,
            Bonferroni over thresholds).
        tightness_cp: ``mu_lb_cp / mu_claimed``.
        tightness_bayes: ``mu_lb_bayes / mu_claimed``.
        alpha: One minus the confidence of each bound.
        curve_fpr: The empirical trade-off curve (type I errors), for plots.
        curve_fnr: Its type II errors.
    """

    features: str
    runs: int
    tp: int
    fn: int
    fp: int
    tn: int
    mu_hat: float
    mu_lb_cp: float
    mu_lb_bayes: float
    epsilon_lb_cp: float
    epsilon_lb_bayes: float
    epsilon_lb_curve: float
    tightness_cp: float
    tightness_bayes: float
    alpha: float
    curve_fpr: list[float] = field(default_factory=list)
    curve_fnr: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def _curve(scores: np.ndarray, members: np.ndarray, points: int = 101) -> tuple[list[float], list[float]]:
    order = np.argsort(-scores, kind="stable")
    m = members[order]
    tpr = np.r_[0.0, np.cumsum(m) / max(1, m.sum())]
    fpr = np.r_[0.0, np.cumsum(~m) / max(1, (~m).sum())]
    keep = np.unique(np.linspace(0, len(fpr) - 1, points).round().astype(int))
    return [round(float(v), 5) for v in fpr[keep]], [round(float(1 - v), 5) for v in tpr[keep]]


def _confusion_bounds(
    scores: np.ndarray, members: np.ndarray, threshold: float, *, alpha: float, seed: int
) -> tuple[tuple[int, int, int, int], tuple[float, float, float]]:
    # A randomised test at the threshold: discrete noise makes the likelihood ratio discrete
    # (PE's vote counts put ≈ 9% of runs exactly at 0), and sending every tie to one side
    # unbalances the two error rates and wastes power. The coins are drawn from the audit's
    # seed, independently of the scores, so the test is still fixed before the runs.
    coins = np.random.default_rng([seed, 0x7E5]).random(len(scores)) < 0.5
    called = (scores > threshold) | ((scores == threshold) & coins)
    tp, fn = int((called & members).sum()), int((~called & members).sum())
    fp, tn = int((called & ~members).sum()), int((~called & ~members).sum())
    return (tp, fn, fp, tn), mu_lower_bounds(tp, fn, fp, tn, alpha=alpha, random_state=seed)


def _bound(
    name: str, scores: np.ndarray, members: np.ndarray, threshold: float, *, mu_claimed: float, delta: float,
    alpha: float, seed: int,
) -> FeatureBound:
    (tp, fn, fp, tn), (point, cp, bayes) = _confusion_bounds(scores, members, threshold, alpha=alpha, seed=seed)
    curve_eps = epsilon_from_scores(scores, members, delta=delta, alpha=alpha, method="cp", choice="bonferroni")
    fpr, fnr = _curve(scores, members)
    return FeatureBound(
        features=name, runs=int(min(members.sum(), (~members).sum())), tp=tp, fn=fn, fp=fp, tn=tn,
        mu_hat=point, mu_lb_cp=cp, mu_lb_bayes=bayes,
        epsilon_lb_cp=epsilon_at_delta(cp, delta), epsilon_lb_bayes=epsilon_at_delta(bayes, delta),
        epsilon_lb_curve=float(curve_eps.epsilon_lb),
        tightness_cp=cp / mu_claimed, tightness_bayes=bayes / mu_claimed, alpha=alpha,
        curve_fpr=fpr, curve_fnr=fnr,
    )


def _black_box_scores(patterns: np.ndarray, members: np.ndarray, runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression on the pattern counts: trained on even runs, scored on odd runs."""
    from sklearn.linear_model import LogisticRegression

    train, test = runs % 2 == 0, runs % 2 == 1
    x = np.log1p(patterns.astype(float))
    if len(np.unique(members[train])) < 2:
        return np.zeros(int(test.sum())), members[test]
    clf = LogisticRegression(C=10.0, max_iter=1000).fit(x[train], members[train])
    return clf.decision_function(x[test]), members[test]


# -- the audit -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorstCaseAudit:
    """The result of :func:`audit_worst_case`.

    Attributes:
        generator: The audited generator's name.
        epsilon_claimed: The claimed ε.
        delta: The claimed δ.
        mu_claimed: The claimed μ (see ``mu_claim``).
        mu_claim: ``"gdp"`` when the privacy report states a μ-GDP guarantee; ``"zcdp"`` when
            μ_claimed is √(2ρ), a reference for generators accounted in zCDP only.
        runs: Runs per side.
        white_box: Bounds from the white-box transcript.
        black_box: Bounds from the synthetic rows.
        verdict: ``"violation"``, ``"consistent"`` or ``"inconclusive"`` (module docstring).
        mu_measurements: √(mean Σ‖Δ‖²/σ²) over runs: the μ of the releases the white-box
            attack sees, were they non-adaptive Gaussian mechanisms (the best it can reach).
        settings: The audit's settings.
        wall_seconds: Wall time of this call (resumed runs not counted).
        cpu_seconds: CPU time of all runs (wherever they ran, resumed ones included) plus
            this process's own.
        mu_claimed_measurements: √(2ρ) of the Gaussian measurements the ledger charged
            (largest over runs; :func:`measurement_rho`): the μ the measurement part of the
            fit claims, the part the white-box statistic reads. Equal to ``mu_claimed`` for
            generators that spend all their budget on Gaussian measurements (independent,
            GSD, PE); below it for MST and AIM, whose selections spend the rest.
        selection_llr_sd: Standard deviation over runs of the marginal selections'
            log-likelihood ratio (0 when no selection is scored): about the μ the selections
            show on this pair (a Gaussian-shaped ratio has sd μ), so a pair that does not
            exercise them shows a small figure.
        selection_llr_shift: Mean of that ratio on D⁺ minus its mean on D⁻ (the sum of the two
            Kullback–Leibler divergences; μ² for a Gaussian-shaped ratio).
    """

    generator: str
    epsilon_claimed: float
    delta: float
    mu_claimed: float
    mu_claim: str
    runs: int
    white_box: FeatureBound
    black_box: FeatureBound
    verdict: Verdict
    mu_measurements: float
    settings: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    mu_claimed_measurements: float = math.nan
    mu_lb_measurements_cp: float = math.nan
    mu_lb_measurements_bayes: float = math.nan
    selection_llr_sd: float = math.nan
    selection_llr_shift: float = math.nan

    @property
    def tightness(self) -> float:
        """The white-box Bayesian tightness μ_lb / μ_claimed (the headline figure)."""
        return self.white_box.tightness_bayes

    @property
    def tightness_measurements(self) -> float:
        """White-box Bayesian μ_lb / ``mu_claimed_measurements``: tightness of the measurement part.

        The bound is from the measurements' likelihood ratio alone (the selections' share
        left out, so it is compared with the claim of the part it reads), at the white-box
        bound's confidence; with no selections scored it is the white-box bound itself. It is a figure of merit, not a
        verdict: the selections run before the measurements and could leak through them, so
        a value above 1 would not by itself prove a violation.
        """
        m = self.mu_claimed_measurements
        return self.mu_lb_measurements_bayes / m if m > 0 else math.nan

    @property
    def tightness_measurements_cp(self) -> float:
        """As :attr:`tightness_measurements`, with the Clopper–Pearson bound."""
        m = self.mu_claimed_measurements
        return self.mu_lb_measurements_cp / m if m > 0 else math.nan

    def summary(self) -> str:
        """Two sentences for people."""
        w, b = self.white_box, self.black_box
        claim = "a μ-GDP guarantee" if self.mu_claim == "gdp" else "√(2ρ), a reference for zCDP accounting"
        return (
            f"Worst-case audit of {self.generator} at ε = {self.epsilon_claimed:g}, δ = {self.delta:g} "
            f"({self.runs} runs per side): {self.verdict}. μ_claimed = {self.mu_claimed:.3f} ({claim}); "
            f"white-box μ ≥ {w.mu_lb_bayes:.3f} (Bayes) / {w.mu_lb_cp:.3f} (Clopper–Pearson), tightness "
            f"{w.tightness_bayes:.2f}; black-box μ ≥ {b.mu_lb_bayes:.3f}, tightness {b.tightness_bayes:.2f}; "
            f"ε ≥ {max(w.epsilon_lb_curve, b.epsilon_lb_curve):.3g} over all thresholds."
            + self._measurement_sentence()
        )

    def _measurement_sentence(self) -> str:
        m = self.mu_claimed_measurements
        if not m > 0 or abs(m - self.mu_claimed) <= 1e-3 * self.mu_claimed:
            return ""
        return (
            f" The measurements the white-box attack reads claim μ = {m:.3f} (the rest of ρ is spent on "
            f"selections): white-box tightness {self.tightness_measurements:.2f} against that part."
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "kind": "dpsynth-worst-case-audit",
            "version": 1,
            "generator": self.generator,
            "epsilon_claimed": self.epsilon_claimed,
            "delta": self.delta,
            "mu_claimed": self.mu_claimed,
            "mu_claim": self.mu_claim,
            "runs": self.runs,
            "verdict": self.verdict,
            "tightness": self.tightness,
            "mu_measurements": self.mu_measurements,
            "mu_claimed_measurements": self.mu_claimed_measurements,
            "tightness_measurements": self.tightness_measurements,
            "tightness_measurements_cp": self.tightness_measurements_cp,
            "mu_lb_measurements_cp": self.mu_lb_measurements_cp,
            "mu_lb_measurements_bayes": self.mu_lb_measurements_bayes,
            "selection_llr_sd": self.selection_llr_sd,
            "selection_llr_shift": self.selection_llr_shift,
            "summary": self.summary(),
            "white_box": self.white_box.to_dict(),
            "black_box": self.black_box.to_dict(),
            "settings": self.settings,
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON, atomically (owner-only)."""
        from dpsynth._files import atomic_open
        from dpsynth.audit.runner import _clean_nan

        with atomic_open(path, "w") as fh:
            fh.write(json.dumps(_clean_nan(self.to_dict()), indent=2, allow_nan=False))
        return Path(path)


def _verdict(white: FeatureBound, black: FeatureBound, *, epsilon: float, mu_claimed: float, gdp: bool) -> Verdict:
    if max(white.epsilon_lb_curve, black.epsilon_lb_curve) > epsilon:
        return "violation"
    if gdp and max(white.mu_lb_cp, black.mu_lb_cp) > mu_claimed:
        return "violation"
    if white.mu_lb_cp >= 0.5 * mu_claimed:
        return "consistent"
    return "inconclusive"


def _read(path: Path) -> dict[tuple[int, int], dict[str, Any]]:
    done: dict[tuple[int, int], dict[str, Any]] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # cut short by an interrupted run: replayed
            done[(int(rec["side"]), int(rec["run"]))] = rec
    return done


def _name(generator: str | Factory) -> str:
    if isinstance(generator, str):
        return generator
    return str(getattr(generator, "name", getattr(generator, "__name__", type(generator).__name__)))


def audit_worst_case(
    generator: str | Factory = "mst",
    *,
    epsilon: float,
    delta: float = 1e-5,
    params: dict[str, Any] | None = None,
    runs: int = 2000,
    n_synth: int = 25,
    n_minus: int = 10,
    alpha: float = 0.05,
    n_jobs: int = 2,
    block: int = 50,
    random_state: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    data_class: type[TranscriptData] = TranscriptData,
    pair: str = "zeros",
) -> WorstCaseAudit:
    """Audit a generator on the worst-case neighbouring pair (module docstring).

    Args:
        generator: A registry name (independent, mst, aim, gsd, pe) or ``factory(seed)``
            returning an unfitted synthesizer (for research copies of a generator).
        epsilon: The claimed ε of one fit.
        delta: The claimed δ.
        params: Hyper-parameters for :func:`dpsynth.synth.create`.
        runs: Fits per side (D⁻ and D⁺).
        n_synth: Synthetic rows per fit for the black-box features.
        n_minus: Rows of D⁻ (the zeros pair), or the selection pair's scale
            (:func:`worst_case_pair`).
        alpha: One minus the confidence (split over the two feature sets).
        n_jobs: joblib workers.
        block: Runs per task (each finished block is stored at once).
        random_state: Seed of the runs (None: fresh, or the stored one when resuming).
        work_dir: Folder for finished runs (JSON lines, owner-only) and settings.
        resume: Continue the runs in ``work_dir``; without it an existing folder is cleared.
        data_class: The transcript recorder (a subclass for research controls).
        pair: The neighbouring pair (:func:`worst_case_pair`): ``"zeros"`` (every
            measurement's worst case) or ``"selection"`` (also the worst case of MST's and
            AIM's marginal selections).

    Returns:
        A :class:`WorstCaseAudit`.

    Raises:
        InvalidParameterError: For bad settings, DP-SGD generators (use
            :func:`dpsynth.audit.audit_dpsgd_canaries`) or unknown generators.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not epsilon > 0:
        raise InvalidParameterError(f"The 'epsilon' parameter must be > 0. Got {epsilon!r}.")
    if not 0 < delta < 1:
        raise InvalidParameterError(f"The 'delta' parameter must be in (0, 1). Got {delta!r}.")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 20:
        raise InvalidParameterError(f"The 'runs' parameter must be an integer >= 20. Got {runs!r}.")
    if pair not in PAIRS:
        raise InvalidParameterError(f"Unknown pair {pair!r}. Choose one of {sorted(PAIRS)}.")
    if not 0 < alpha < 1 or n_synth < 1 or block < 1:
        raise InvalidParameterError(
            f"Need alpha in (0, 1), n_synth >= 1 and block >= 1. Got {alpha!r}, {n_synth!r}, {block!r}."
        )
    if isinstance(generator, str):
        if generator in DPSGD_GENERATORS:
            raise InvalidParameterError(
                f"{generator} trains with DP-SGD: audit its trainer with Dirac gradient canaries "
                "(dpsynth.audit.audit_dpsgd_canaries)."
            )
        if generator not in PAIR_FAMILIES:
            raise InvalidParameterError(
                f"No worst-case pair for generator {generator!r}. Choose one of {sorted(PAIR_FAMILIES)}."
            )
    elif not callable(generator):
        raise InvalidParameterError("The 'generator' parameter must be a registry name or factory(seed).")
    name = _name(generator)
    spec = _Spec(
        generator, dict(params or {}), float(epsilon), float(delta), int(n_synth), int(n_minus), data_class, pair
    )
    settings: dict[str, Any] = {
        "generator": name, "params": dict(params or {}), "epsilon": float(epsilon), "delta": float(delta),
        "n_synth": n_synth, "n_minus": n_minus, "alpha": alpha, "data_class": data_class.__name__,
    }
    if pair != "zeros":  # absent for the original pair, so audits stored before it resume
        settings["pair"] = pair
    folder = Path(work_dir) if work_dir is not None else None
    seed = random_state
    if folder is not None:
        state_path = folder / "state.json"
        if resume and state_path.exists():
            state = json.loads(state_path.read_text(encoding="utf-8"))
            stored = (set(settings) | set(state["settings"])) - {"random_state"}
            changed = sorted(k for k in stored if state["settings"].get(k) != settings.get(k))
            if changed:
                raise InvalidParameterError(
                    f"resume with different settings ({', '.join(changed)}) than the audit in {folder}."
                )
            if seed is not None and seed != state["seed"]:
                raise InvalidParameterError(f"The audit in {folder} used random_state={state['seed']}.")
            seed = int(state["seed"])
        elif folder.exists() and not resume:
            shutil.rmtree(folder)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    settings["random_state"] = seed
    path = None
    records: dict[tuple[int, int], dict[str, Any]] = {}
    if folder is not None:
        private_dir(folder)
        write_private(folder / "state.json", json.dumps({"seed": seed, "settings": settings}, indent=2))
        path = folder / "runs.jsonl"
        records = {k: v for k, v in _read(path).items() if k[1] < runs}
    todo = [(side, r) for r in range(runs) for side in (0, 1) if (side, r) not in records]
    if todo:
        blocks = [todo[i:i + block] for i in range(0, len(todo), block)]
        tasks = (delayed(_runs)(spec, seed, b) for b in blocks)
        results: Iterable[list[dict[str, Any]]] = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
        fh = open_private(path, "a") if path is not None else None
        try:
            for recs in results:
                for rec in recs:
                    records[(int(rec["side"]), int(rec["run"]))] = rec
                    if fh is not None:
                        fh.write(json.dumps(rec) + "\n")
                if fh is not None:
                    fh.flush()
        finally:
            if fh is not None:
                fh.close()
    keys = sorted(records)
    if not keys:
        raise InvalidDataError("No runs finished.")
    members = np.array([k[0] == 1 for k in keys])
    run_ids = np.array([k[1] for k in keys])
    llr = np.array([float(records[k]["llr"]) for k in keys])
    meas_only = llr
    # The white-box statistic is the log-likelihood ratio of the whole transcript: the
    # measurements' Gaussian ratios plus the marginal selections' exponential-mechanism
    # ratios (runs recorded before selections were scored carry measurements only).
    with_selections = all("llr_select" in records[k] for k in keys)
    sel_sd = sel_shift = math.nan
    if with_selections:
        sel = np.array([float(records[k]["llr_select"]) for k in keys])
        llr = llr + sel
        sel_sd, sel_shift = float(sel.std()), float(sel[members].mean() - sel[~members].mean())
    settings["white_box_statistic"] = "measurements + selections" if with_selections else "measurements"
    info = np.array([float(records[k]["info"]) for k in keys])
    patterns = np.array([records[k]["patterns"] for k in keys], dtype=float)
    first = records[keys[0]]
    gdp = first.get("mu") is not None
    mu_claimed = float(first["mu"]) if gdp else math.sqrt(2.0 * float(first["rho"]))
    a = alpha / 2.0  # two feature sets
    white = _bound("white_box", llr, members, 0.0, mu_claimed=mu_claimed, delta=delta, alpha=a, seed=seed)
    meas_cp, meas_bayes = white.mu_lb_cp, white.mu_lb_bayes
    if with_selections and np.any(llr != meas_only):
        _, (_, meas_cp, meas_bayes) = _confusion_bounds(meas_only, members, 0.0, alpha=a, seed=seed)
    bb_scores, bb_members = _black_box_scores(patterns, members, run_ids)
    black = _bound("black_box", bb_scores, bb_members, 0.0, mu_claimed=mu_claimed, delta=delta, alpha=a, seed=seed + 1)
    verdict = _verdict(white, black, epsilon=float(epsilon), mu_claimed=mu_claimed, gdp=gdp)
    run_cpu = float(sum(float(records[k].get("cpu_s", 0.0)) for k in keys))
    rho_meas = [float(records[k]["rho_measurements"]) for k in keys if "rho_measurements" in records[k]]
    mu_meas_claimed = math.sqrt(2.0 * max(rho_meas)) if rho_meas else math.nan
    return WorstCaseAudit(
        generator=name, epsilon_claimed=float(epsilon), delta=float(delta), mu_claimed=mu_claimed,
        mu_claim="gdp" if gdp else "zcdp", runs=runs, white_box=white, black_box=black, verdict=verdict,
        mu_measurements=float(math.sqrt(max(0.0, float(info.mean())))), settings=settings,
        wall_seconds=time.perf_counter() - t0,
        cpu_seconds=run_cpu + (time.process_time() - c0 if n_jobs != 1 else 0.0),
        mu_claimed_measurements=mu_meas_claimed,
        mu_lb_measurements_cp=meas_cp, mu_lb_measurements_bayes=meas_bayes,
        selection_llr_sd=sel_sd, selection_llr_shift=sel_shift,
    )
