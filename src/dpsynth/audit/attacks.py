"""Membership-inference attacks on synthetic data.

Every attack has ``score(synthetic, target, *, domain, reference=None) -> float``: the higher
the score, the more the attack believes the target was in the generator's training data. The
attack sees only the synthetic rows, the target, the public domain and, optionally, a
reference sample from the same population (the adversary's auxiliary knowledge).

Rows are compared in a standardised encoding built from the public domain only (never from
the data): a categorical column becomes a one-hot vector scaled so two different categories
are at distance 1; an ordinal, numeric or datetime column becomes its bin code divided by
its number of bins minus one, in [0, 1]; a nullable column gets a 0/1 missing indicator.

Reading raw rows is the point here: the audit measures a release, it is not part of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError
from dpsynth.progress import track


class Attack(Protocol):
    """What the privacy game needs from an attack."""

    name: str

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """Membership score of ``target`` (higher = more likely a member)."""
        ...


def _as_frame(target: pd.Series | pd.DataFrame) -> pd.DataFrame:
    if isinstance(target, pd.DataFrame):
        if len(target) != 1:
            raise InvalidParameterError(f"The target must be one row. Got {len(target)} rows.")
        return target
    return target.to_frame().T


def encode_codes(frame: pd.DataFrame, domain: Domain) -> np.ndarray:
    """Integer codes (n × d) of a frame under the domain's public discretisation."""
    return np.asarray(Discretizer(domain).encode_frame(frame[list(domain.names)]), dtype=np.int64)


def standardise(codes: np.ndarray, domain: Domain) -> np.ndarray:
    """The standardised encoding (see the module docstring) of integer codes."""
    disc = Discretizer(domain)
    parts: list[np.ndarray] = []
    for j, col in enumerate(domain):
        c = codes[:, j]
        miss = disc.missing_code(col.name)
        present = c != miss if miss is not None else np.ones(len(c), dtype=bool)
        n_present = disc.sizes[col.name] - (1 if miss is not None else 0)
        if col.kind == "categorical":
            onehot = np.zeros((len(c), max(n_present, 1)))
            rows = np.nonzero(present)[0]
            onehot[rows, c[present]] = 1.0 / math.sqrt(2.0)
            parts.append(onehot)
        else:
            scaled = np.where(present, c / max(n_present - 1, 1), 0.0)
            parts.append(scaled[:, None])
        if miss is not None:
            parts.append((~present).astype(float)[:, None])
    return np.hstack(parts) if parts else np.zeros((len(codes), 0))


class ClosestDistanceAttack:
    """Distance to the closest synthetic record (the "DCR" attack).

    A generator that memorises its training rows puts a synthetic row at or near each member;
    the score is minus the Euclidean distance, on the standardised encoding, from the target to
    its nearest synthetic row. With a ``reference`` sample the distance is divided by the
    target's distance to its nearest reference row, so that targets in dense regions are not
    called members merely for having close neighbours.
    """

    name = "closest_distance"

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """Minus the (optionally reference-normalised) distance to the closest synthetic row."""
        if len(synthetic) == 0:
            raise InvalidParameterError("The synthetic data is empty; there is nothing to attack.")
        t = standardise(encode_codes(_as_frame(target), domain), domain)
        s = standardise(encode_codes(synthetic, domain), domain)
        d = float(np.sqrt(((s - t) ** 2).sum(axis=1)).min())
        if reference is not None and len(reference) > 0:
            r = standardise(encode_codes(reference, domain), domain)
            d_ref = float(np.sqrt(((r - t) ** 2).sum(axis=1)).min())
            return -math.log((d + 1e-3) / (d_ref + 1e-3))
        return -d


class QueryAttack:
    """Counting queries on random attribute subsets (TAPAS's query-based attack, simplified).

    For ``n_queries`` random subsets of the columns (drawn once, from ``random_state``), count
    the synthetic rows that match the target on every column of the subset. The score is the
    mean over subsets of ``log((count_synth + ½) / (n_synth + 1))``, minus the same quantity on
    the ``reference`` sample when one is given. This is the unsupervised variant: TAPAS feeds
    the counts to a classifier trained on shadow games, which is not built here.

    Args:
        n_queries: Number of random subsets.
        min_size: Smallest subset size.
        max_size: Largest subset size (None: all columns).
        random_state: Seed for the subsets.
    """

    name = "query"

    def __init__(
        self,
        *,
        n_queries: int = 200,
        min_size: int = 1,
        max_size: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_queries = n_queries
        self.min_size = min_size
        self.max_size = max_size
        self.random_state = random_state

    def _subsets(self, d: int) -> list[np.ndarray]:
        if self.n_queries < 1 or self.min_size < 1:
            raise InvalidParameterError(
                "The 'n_queries' and 'min_size' parameters of QueryAttack must be >= 1. "
                f"Got n_queries={self.n_queries!r}, min_size={self.min_size!r}."
            )
        hi = min(self.max_size or d, d)
        lo = min(self.min_size, hi)
        rng = np.random.default_rng(self.random_state)
        sizes = rng.integers(lo, hi + 1, size=self.n_queries)
        return [rng.choice(d, size=k, replace=False) for k in sizes]

    @staticmethod
    def _log_freq(codes: np.ndarray, t: np.ndarray, subsets: list[np.ndarray]) -> np.ndarray:
        eq = codes == t  # n × d
        counts = np.array([eq[:, q].all(axis=1).sum() for q in subsets], dtype=float)
        return np.log((counts + 0.5) / (len(codes) + 1.0))

    def features(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> np.ndarray:
        """Per-query log frequencies of the target (reference-corrected if given)."""
        if len(synthetic) == 0:
            raise InvalidParameterError("The synthetic data is empty; there is nothing to attack.")
        subsets = self._subsets(len(domain))
        t = encode_codes(_as_frame(target), domain)[0]
        f = self._log_freq(encode_codes(synthetic, domain), t, subsets)
        if reference is not None and len(reference) > 0:
            f = f - self._log_freq(encode_codes(reference, domain), t, subsets)
        return f

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """Mean over the queries of :meth:`features`."""
        return float(self.features(synthetic, target, domain=domain, reference=reference).mean())


class DensityRatioAttack:
    """DOMIAS: synthetic density over reference density (van Breugel et al., AISTATS 2023).

    A generator that overfits puts more synthetic mass near its training rows than the
    population has there. DOMIAS scores a target by p_synth(t) / p_ref(t) (their eq. 2),
    with both densities estimated by Gaussian kernel density estimation on the
    standardised encoding; the score is the log of the ratio. Dividing by the reference
    density is what separates "the generator overfits here" from "this region is simply
    common". Both estimates use one bandwidth (Scott's rule, n^(−1/(p+4)) times the root mean
    per-feature variance of the synthetic rows, unless ``bandwidth`` is given), so that the
    ratio compares like with like.

    Needs a reference sample (the game's ``use_reference=True``).

    Args:
        bandwidth: Kernel bandwidth on the standardised encoding (None: Scott's rule).
        max_reference: Reference rows used at most (a fixed-seed subsample beyond that).
        max_synthetic: Synthetic rows used at most.
    """

    name = "domias"
    needs_reference = True

    def __init__(
        self,
        *,
        bandwidth: float | None = None,
        max_reference: int = 5000,
        max_synthetic: int = 20_000,
    ) -> None:
        self.bandwidth = bandwidth
        self.max_reference = max_reference
        self.max_synthetic = max_synthetic

    @staticmethod
    def _subsample(x: np.ndarray, k: int) -> np.ndarray:
        if len(x) <= k:
            return x
        idx = np.random.default_rng(0).choice(len(x), size=k, replace=False)
        return x[idx]

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """Score ``log p_synth(target) − log p_ref(target)``."""
        if len(synthetic) == 0:
            raise InvalidParameterError("The synthetic data is empty; there is nothing to attack.")
        if reference is None or len(reference) == 0:
            raise InvalidParameterError(
                "The DOMIAS attack needs reference rows from the population: play the games "
                "with use_reference=True."
            )
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise InvalidParameterError(
                f"The 'bandwidth' parameter of DensityRatioAttack must be > 0. Got {self.bandwidth!r}."
            )
        t = standardise(encode_codes(_as_frame(target), domain), domain)
        s = self._subsample(standardise(encode_codes(synthetic, domain), domain), self.max_synthetic)
        r = self._subsample(standardise(encode_codes(reference, domain), domain), self.max_reference)
        h = self.bandwidth
        if h is None:
            spread = math.sqrt(max(float(s.var(axis=0).mean()), 1e-6))
            h = spread * len(s) ** (-1.0 / (s.shape[1] + 4))
        return float(_log_kde(s, t[0], h) - _log_kde(r, t[0], h))


def _log_kde(x: np.ndarray, t: np.ndarray, h: float) -> float:
    """Log of the Gaussian kernel density estimate of the rows ``x`` at one point ``t``.

    Exact (no tree approximation): log((1/n) Σ N(t; xᵢ, h² I)). Equal to scikit-learn's
    ``KernelDensity(bandwidth=h).fit(x).score_samples([t])``, faster for a single point.
    """
    from scipy.special import logsumexp

    sq = ((x - t) ** 2).sum(axis=1)
    p = x.shape[1]
    return float(
        logsumexp(-sq / (2.0 * h * h)) - math.log(len(x)) - 0.5 * p * math.log(2.0 * math.pi * h * h)
    )


FeatureSet = Literal["naive", "histogram", "correlation", "all"]


def shadow_features(
    synthetic: pd.DataFrame, domain: Domain, features: FeatureSet = "all"
) -> np.ndarray:
    """The feature vector of one synthetic data set (Stadler et al. 2022, Section 5.1).

    * ``"naive"``: mean, median and variance of every standardised feature;
    * ``"histogram"``: the frequency of every value of every column (one-way marginals);
    * ``"correlation"``: the upper triangle of the Pearson correlation matrix of the
      standardised encoding (0 where a feature is constant);
    * ``"all"``: the three concatenated.
    """
    if features not in ("naive", "histogram", "correlation", "all"):
        raise InvalidParameterError(
            "The 'features' parameter must be 'naive', 'histogram', 'correlation' or 'all'. "
            f"Got {features!r}."
        )
    codes = encode_codes(synthetic, domain)
    parts: list[np.ndarray] = []
    if features in ("naive", "all"):
        x = standardise(codes, domain)
        parts += [x.mean(axis=0), np.median(x, axis=0), x.var(axis=0)]
    if features in ("histogram", "all"):
        sizes = Discretizer(domain).sizes
        n = max(len(codes), 1)
        for j, col in enumerate(domain):
            parts.append(np.bincount(codes[:, j], minlength=sizes[col.name]) / n)
    if features in ("correlation", "all"):
        x = standardise(codes, domain)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.corrcoef(x, rowvar=False) if len(x) > 1 else np.zeros((x.shape[1],) * 2)
        iu = np.triu_indices(x.shape[1], k=1)
        parts.append(np.nan_to_num(np.atleast_2d(c)[iu], nan=0.0))
    return np.concatenate(parts)


class ShadowModelAttack:
    """TAPAS's shadow-model ("groundhog") attack (Stadler, Oprisanu, Troncoso, USENIX 2022).

    The adversary knows the generator (black box, with its hyper-parameters) and has
    reference data from the population. Before the games, :meth:`prepare` fits the generator
    on ``n_shadows`` shadow training sets drawn from the reference data, half with the
    target and half without, turns each shadow synthetic data set into a feature vector
    (:func:`shadow_features`) and trains a random forest to tell the two worlds apart.
    A game's score is the forest's probability that the target was in.

    Shadow fits are the expensive part: ``n_shadows`` generator fits per target (default 20).
    Attacks that share a ``cache`` in :meth:`prepare` (as the game does) share the fits, so
    the three feature sets cost one set of shadow fits.

    Args:
        features: ``"naive"``, ``"histogram"``, ``"correlation"`` or ``"all"``.
        n_shadows: Shadow data sets (half with the target); at least 4.
        n_estimators: Trees in the random forest.
        random_state: Seed for the shadow training sets and the forest.
    """

    def __init__(
        self,
        *,
        features: FeatureSet = "all",
        n_shadows: int = 20,
        n_estimators: int = 200,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.n_shadows = n_shadows
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.name = f"groundhog_{features}"
        self.classifier_: Any = None
        self.target_: int | None = None

    def prepare(
        self,
        population: pd.DataFrame,
        domain: Domain,
        generator: Any,
        *,
        target: int,
        m: int,
        n_synth: int,
        n_jobs: int = 1,
        cache: dict[Any, Any] | None = None,
    ) -> ShadowModelAttack:
        """Fit the shadow models for ``target`` and return a trained copy of this attack.

        Args:
            population: The adversary's reference data (the target among them).
            domain: The public domain.
            generator: ``generator(train, domain, n_synth, seed) -> synthetic frame``.
            target: Position of the target in ``population``.
            m: Training-set size with the target.
            n_synth: Synthetic rows per shadow fit.
            n_jobs: Parallel workers for the shadow fits.
            cache: Shared store of shadow synthetic data sets (keyed by the shadow setup).

        Returns:
            A trained copy (this object is left untrained, so it can be reused).
        """
        import copy

        from joblib import Parallel, delayed
        from sklearn.ensemble import RandomForestClassifier

        if self.n_shadows < 4 or self.n_estimators < 1:
            raise InvalidParameterError(
                "The 'n_shadows' parameter of ShadowModelAttack must be >= 4 and 'n_estimators' "
                f">= 1. Got n_shadows={self.n_shadows!r}, n_estimators={self.n_estimators!r}."
            )
        shadow_features(population.iloc[:2], domain, self.features)  # checks the feature set
        key = ("shadows", id(generator), target, m, n_synth, self.n_shadows, self.random_state)
        store = cache if cache is not None else {}
        if key not in store:
            rng = np.random.default_rng(np.random.SeedSequence(self.random_state, spawn_key=(target,)))
            plan = [
                (bool(i % 2 == 0), int(rng.integers(2**31 - 2)), int(rng.integers(2**31 - 2)))
                for i in range(self.n_shadows)
            ]
            jobs = (
                delayed(_shadow_one)(population, domain, generator, target, m, n_synth, *p)
                for p in plan
            )
            with track(f"shadow models (target {target})", total=len(plan)) as update:
                done: list[tuple[bool, pd.DataFrame]] = []
                for out in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
                    done.append(out)
                    update(len(done))
            store[key] = done
        shadows: list[tuple[bool, pd.DataFrame]] = store[key]
        x = np.vstack([shadow_features(s, domain, self.features) for _, s in shadows])
        y = np.array([member for member, _ in shadows])
        clf = RandomForestClassifier(
            n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=1
        ).fit(x, y)
        trained = copy.copy(self)
        trained.classifier_ = clf
        trained.target_ = target
        return trained

    def score(
        self,
        synthetic: pd.DataFrame,
        target: pd.Series,
        *,
        domain: Domain,
        reference: pd.DataFrame | None = None,
    ) -> float:
        """The trained forest's probability that the target was in the training data."""
        if self.classifier_ is None:
            raise InvalidParameterError(
                "The shadow-model attack is not trained: call prepare(...) first (the membership "
                "game does this for every target)."
            )
        if len(synthetic) == 0:
            raise InvalidParameterError("The synthetic data is empty; there is nothing to attack.")
        f = shadow_features(synthetic, domain, self.features)[None, :]
        proba = self.classifier_.predict_proba(f)[0]
        classes = list(self.classifier_.classes_)
        return float(proba[classes.index(True)]) if True in classes else 0.0


def _shadow_one(
    population: pd.DataFrame,
    domain: Domain,
    generator: Any,
    target: int,
    m: int,
    n_synth: int,
    member: bool,
    sample_seed: int,
    fit_seed: int,
) -> tuple[bool, pd.DataFrame]:
    rng = np.random.default_rng(sample_seed)
    others = np.delete(np.arange(len(population)), target)
    k = min(m - 1, len(others))
    chosen = rng.choice(others, size=k, replace=False)
    rows = np.append(chosen, target) if member else chosen
    train = population.iloc[np.sort(rows)].reset_index(drop=True)
    return member, generator(train, domain, n_synth, fit_seed)


ATTACKS: dict[str, Callable[[], Any]] = {
    "closest_distance": ClosestDistanceAttack,
    "query": QueryAttack,
    "domias": DensityRatioAttack,
    "groundhog_naive": lambda: ShadowModelAttack(features="naive"),
    "groundhog_histogram": lambda: ShadowModelAttack(features="histogram"),
    "groundhog_correlation": lambda: ShadowModelAttack(features="correlation"),
}


def get_attack(name: str) -> Attack:
    """An attack by name, with default settings.

    Raises:
        InvalidParameterError: For an unknown name.
    """
    if name not in ATTACKS:
        raise InvalidParameterError(f"Unknown attack {name!r}. Choose one of {sorted(ATTACKS)}.")
    attack: Attack = ATTACKS[name]()
    return attack
