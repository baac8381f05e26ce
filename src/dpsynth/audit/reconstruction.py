"""Attribute inference by linear reconstruction (Annamalai, Gadotti, Rocher, USENIX Security 2024).

The adversary knows the quasi-identifiers (every column but one) of every record in the
training data and wants one binary secret attribute. The privacy game, per repetition:

1. draw a training set of ``n_rows`` records from the population;
2. pick target records whose quasi-identifiers are unique in the training set and redraw
   their secret bit uniformly at random, so nothing but the record itself can reveal it and
   guessing gets 50% (the paper's Section 4.1);
3. fit the generator on the modified training set and sample synthetic rows;
4. for every pair of quasi-identifiers (a, b) and every pair of values (u, w) present in
   the training data, the query q(D) = #{rows with a = u, b = w, secret = 1} is linear in the
   unknown bits x ∈ {0, 1}ⁿ: q = A x, where row q of A marks the records with a = u, b = w
   (known to the adversary). Its answer is estimated from the synthetic data with
   *conditional scaling* (their Section 5.2): b_q = n_q · P̂_synth(secret = 1 | a = u, b = w),
   n_q being the number of training records in the cell. Where no synthetic row falls in
   the cell, the overall synthetic rate of secret = 1 stands in (the authors' code uses 0
   there; a neutral rate avoids biasing those records towards 0);
5. solve min ‖A x − b‖₁ subject to 0 ≤ x ≤ 1, written as a linear programme
   (min Σ t, −t ≤ A x − b ≤ t) and solved with SciPy's HiGHS (the authors use Gurobi);
6. predict secret = 1 for the targets with x ≥ ½; x is also the score for the AUC.

Two baselines see the same synthetic rows: a random forest trained on the synthetic rows
to predict the secret from the quasi-identifiers (Stadler et al. 2022's inference attack),
and the closest synthetic record on the quasi-identifiers (ties averaged). All three are
reported per synthetic-data size; the paper finds the reconstruction attack gains most
from more synthetic rows.

The game reads raw rows on purpose: it audits a release, it is not part of one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import sparse
from scipy.optimize import linprog
from scipy.stats import beta

from dpsynth.audit.attacks import encode_codes, standardise
from dpsynth.audit.game import Generator, collect_games
from dpsynth.audit.metrics import auc_score
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.progress import track

METHODS = ("reconstruction", "random_forest", "closest_record")


def secret_code(domain: Domain, secret: str, secret_value: Any) -> int:
    """The code of ``secret_value`` in the binary column ``secret``."""
    col = domain[secret]
    frame = pd.DataFrame({secret: [secret_value]})
    try:
        code = int(encode_codes(frame, domain.project([secret]))[0, 0])
    except InvalidDataError:
        code = -1
    if code < 0 or code >= len(col.categories or ()):
        raise InvalidParameterError(
            f"{secret_value!r} is not a category of the secret column {secret!r}. "
            f"Choose one of {list(col.categories or ())}."
        )
    return code


def _resolve_secret(domain: Domain, secret: str | None, secret_value: Any) -> tuple[str, Any]:
    name = secret if secret is not None else domain.target
    if name is None:
        raise InvalidParameterError(
            "Name the secret attribute (secret=...): the metadata declares no target column."
        )
    if name not in domain:
        raise InvalidParameterError(
            f"Unknown secret column {name!r}. Choose one of {list(domain.names)}."
        )
    col = domain[name]
    cats = list(col.categories or ())
    if col.kind not in ("categorical", "ordinal") or len(cats) != 2 or col.nullable:
        raise InvalidParameterError(
            f"The secret column {name!r} must be binary (a non-nullable categorical column with "
            f"two categories); it is {col.kind} with {len(cats)} categories. Pick another column."
        )
    return name, (cats[-1] if secret_value is None else secret_value)


def _l1_reconstruct(a: sparse.csr_matrix, b: np.ndarray) -> np.ndarray:
    """Solve min ‖A x − b‖₁ over 0 ≤ x ≤ 1, as an LP, with HiGHS."""
    q, n = a.shape
    eye = sparse.identity(q, format="csr")
    a_ub = sparse.vstack([sparse.hstack([a, -eye]), sparse.hstack([-a, -eye])], format="csr")
    b_ub = np.concatenate([b, -b])
    c = np.concatenate([np.zeros(n), np.ones(q)])
    bounds = [(0.0, 1.0)] * n + [(0.0, None)] * q
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:  # pragma: no cover - the LP is always feasible
        raise InvalidDataError(f"The reconstruction LP did not solve: {res.message}")
    return np.clip(np.asarray(res.x[:n], dtype=float), 0.0, 1.0)


def reconstruction_scores(
    qi: np.ndarray, synth_qi: np.ndarray, synth_secret: np.ndarray
) -> np.ndarray:
    """LP scores x ∈ [0, 1]ⁿ for every training record (steps 4–5 of the module docstring).

    Args:
        qi: Quasi-identifier codes of the training records (n × k, known to the adversary).
        synth_qi: Quasi-identifier codes of the synthetic rows.
        synth_secret: Secret bits of the synthetic rows.

    Returns:
        The relaxed secret bits.
    """
    n, k = qi.shape
    rate = float(synth_secret.mean()) if len(synth_secret) else 0.5
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    answers: list[np.ndarray] = []
    n_queries = 0
    width = int(max(qi.max(initial=0), synth_qi.max(initial=0))) + 2
    for a, b in combinations(range(k), 2) if k >= 2 else [(0, 0)]:
        # Cells (u, w) of the pair present in the training data, and who falls in each.
        key = qi[:, a].astype(np.int64) * width + qi[:, b]
        cells, inverse, n_cell = np.unique(key, return_inverse=True, return_counts=True)
        # Synthetic counts per cell (rows of cells absent from the training data drop out).
        s_key = synth_qi[:, a].astype(np.int64) * width + synth_qi[:, b]
        idx = np.clip(np.searchsorted(cells, s_key), 0, len(cells) - 1)
        hit = cells[idx] == s_key
        s_all = np.bincount(idx[hit], minlength=len(cells)).astype(float)
        s_one = np.bincount(idx[hit], weights=synth_secret[hit], minlength=len(cells))
        cond = np.where(s_all > 0, s_one / np.maximum(s_all, 1), rate)
        rows.append(n_queries + inverse.ravel())
        cols.append(np.arange(n))
        answers.append(n_cell * cond)  # conditional scaling
        n_queries += len(cells)
    a_mat = sparse.csr_matrix(
        (np.ones(n * len(rows)), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_queries, n),
    )
    return _l1_reconstruct(a_mat, np.concatenate(answers))


def _closest_record(
    qi_std: np.ndarray, synth_std: np.ndarray, synth_secret: np.ndarray
) -> np.ndarray:
    """Secret rate among the closest synthetic rows (ties averaged), per query record."""
    out = np.empty(len(qi_std))
    for i, t in enumerate(qi_std):
        d = ((synth_std - t) ** 2).sum(axis=1)
        out[i] = float(synth_secret[d <= d.min() + 1e-12].mean())
    return out


def _forest(
    qi: np.ndarray, synth_qi: np.ndarray, synth_secret: np.ndarray, seed: int
) -> np.ndarray:
    from sklearn.ensemble import RandomForestClassifier

    if synth_secret.min() == synth_secret.max():
        return np.full(len(qi), float(synth_secret[0]))
    clf = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    clf.fit(synth_qi, synth_secret)
    return np.asarray(clf.predict_proba(qi)[:, list(clf.classes_).index(1)], dtype=float)


def _play_recon(
    population: pd.DataFrame,
    domain: Domain,
    generator: Generator,
    secret: str,
    pos_code: int,
    qis: tuple[str, ...],
    n_rows: int,
    sizes: tuple[int, ...],
    targets_per_game: int,
    entropy: int,
    game: int,
) -> dict[str, Any]:
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(game,)))
    rows = np.sort(rng.choice(len(population), size=n_rows, replace=False))
    train = population.iloc[rows].reset_index(drop=True)
    qi_dom = domain.project(qis)
    qi = encode_codes(train, qi_dom)
    bits = (encode_codes(train, domain.project([secret]))[:, 0] == pos_code).astype(int)
    _, inv, counts = np.unique(qi, axis=0, return_inverse=True, return_counts=True)
    unique_rows = np.nonzero(counts[inv.ravel()] == 1)[0]
    rec: dict[str, Any] = {"entropy": entropy, "game": game, "truth": [], "scores": {}}
    if len(unique_rows) == 0:
        return rec  # no record with unique quasi-identifiers: nothing to attack this time
    targets = np.sort(rng.choice(unique_rows, size=min(targets_per_game, len(unique_rows)), replace=False))
    new_bits = rng.integers(0, 2, size=len(targets))
    bits[targets] = new_bits
    cats = list(domain[secret].categories or ())
    values = np.where(bits == 1, cats[pos_code], cats[1 - pos_code])
    train[secret] = pd.Series(values, dtype=train[secret].dtype)
    seed = int(rng.integers(2**31 - 2))
    synthetic = generator(train, domain, max(sizes), seed)
    s_qi_all = encode_codes(synthetic, qi_dom)
    s_bits_all = (encode_codes(synthetic, domain.project([secret]))[:, 0] == pos_code).astype(int)
    order = rng.permutation(len(synthetic))
    qi_std = standardise(qi[targets], qi_dom)
    rec["truth"] = [int(b) for b in new_bits]
    for size in sizes:
        pick = order[: min(size, len(order))]
        s_qi, s_bits = s_qi_all[pick], s_bits_all[pick]
        x = reconstruction_scores(qi, s_qi, s_bits)
        rec["scores"][str(size)] = {
            "reconstruction": [float(v) for v in x[targets]],
            "random_forest": [float(v) for v in _forest(qi[targets], s_qi, s_bits, seed)],
            "closest_record": [
                float(v) for v in _closest_record(qi_std, standardise(s_qi, qi_dom), s_bits)
            ],
        }
    return rec


@dataclass(frozen=True)
class MethodScore:
    """Accuracy and AUC of one inference method at one synthetic-data size.

    Attributes:
        accuracy: Share of targets whose secret was guessed right (score ≥ ½ → 1).
        accuracy_ci: Two-sided Clopper–Pearson interval of the accuracy at 1 − alpha.
        auc: Area under the ROC curve of the scores against the true bits (nan if one class).
        n: Targets scored.
    """

    accuracy: float
    accuracy_ci: tuple[float, float]
    auc: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (nan as None)."""
        return {
            "accuracy": self.accuracy,
            "accuracy_ci": list(self.accuracy_ci),
            "auc": None if math.isnan(self.auc) else self.auc,
            "n": self.n,
        }


@dataclass(frozen=True)
class ReconstructionResult:
    """The outcome of :func:`audit_reconstruction`.

    Attributes:
        secret: The secret column.
        secret_value: The value counted as secret = 1.
        quasi_identifiers: The columns the adversary knows.
        n_rows: Training-set size.
        games: Games played (fits of the generator).
        targets: Targets scored over all games.
        sizes: Synthetic-data sizes evaluated.
        by_size: Per size, per method (``reconstruction``, ``random_forest``,
            ``closest_record``), the :class:`MethodScore`.
        alpha: One minus the confidence of the intervals.
    """

    secret: str
    secret_value: Any
    quasi_identifiers: tuple[str, ...]
    n_rows: int
    games: int
    targets: int
    sizes: tuple[int, ...]
    by_size: dict[int, dict[str, MethodScore]]
    alpha: float

    @property
    def headline(self) -> MethodScore:
        """The reconstruction attack at the largest synthetic size."""
        return self.by_size[max(self.sizes)]["reconstruction"]

    def summary(self) -> str:
        """One line: the attack's accuracy against the 50% baseline."""
        h = self.headline
        lo, hi = h.accuracy_ci
        return (
            f"Reconstruction of '{self.secret}' from {len(self.quasi_identifiers)} "
            f"quasi-identifiers: accuracy {h.accuracy:.1%} (95% CI {lo:.1%}–{hi:.1%}; random "
            f"guessing 50%) on {h.n} targets, {max(self.sizes)} synthetic rows."
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        value = self.secret_value
        if isinstance(value, np.generic):
            value = value.item()
        return {
            "secret": self.secret,
            "secret_value": value,
            "quasi_identifiers": list(self.quasi_identifiers),
            "n_rows": self.n_rows,
            "games": self.games,
            "targets": self.targets,
            "sizes": list(self.sizes),
            "alpha": self.alpha,
            "baseline_accuracy": 0.5,
            "by_size": {
                str(k): {m: s.to_dict() for m, s in v.items()} for k, v in self.by_size.items()
            },
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ReconstructionResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            secret=doc["secret"],
            secret_value=doc["secret_value"],
            quasi_identifiers=tuple(doc["quasi_identifiers"]),
            n_rows=int(doc["n_rows"]),
            games=int(doc["games"]),
            targets=int(doc["targets"]),
            sizes=tuple(int(s) for s in doc["sizes"]),
            by_size={
                int(k): {
                    m: MethodScore(
                        accuracy=float(s["accuracy"]),
                        accuracy_ci=(float(s["accuracy_ci"][0]), float(s["accuracy_ci"][1])),
                        auc=float("nan") if s["auc"] is None else float(s["auc"]),
                        n=int(s["n"]),
                    )
                    for m, s in v.items()
                }
                for k, v in doc["by_size"].items()
            },
            alpha=float(doc["alpha"]),
        )


def _score(truth: np.ndarray, scores: np.ndarray, alpha: float) -> MethodScore:
    n = len(truth)
    correct = int(((scores >= 0.5).astype(int) == truth).sum())
    lo = float(beta.ppf(alpha / 2, correct, n - correct + 1)) if correct > 0 else 0.0
    hi = float(beta.ppf(1 - alpha / 2, correct + 1, n - correct)) if correct < n else 1.0
    auc = auc_score(scores, truth.astype(bool)) if 0 < truth.sum() < n else float("nan")
    return MethodScore(accuracy=correct / n, accuracy_ci=(lo, hi), auc=auc, n=n)


def _read_done(path: Path) -> dict[int, dict[str, Any]]:
    done: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return done
    with path.open() as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # cut short by an interrupted run: replayed
            done[int(rec["game"])] = rec
    return done


def audit_reconstruction(
    population: pd.DataFrame,
    domain: Domain,
    generator: Generator,
    *,
    secret: str | None = None,
    secret_value: Any = None,
    quasi_identifiers: Sequence[str] | None = None,
    n_rows: int = 1000,
    games: int = 10,
    targets_per_game: int = 10,
    sizes: Sequence[int] | None = None,
    alpha: float = 0.05,
    n_jobs: int = 1,
    random_state: int | None = 0,
    results_path: str | os.PathLike[str] | None = None,
) -> ReconstructionResult:
    """Play the linear-reconstruction game (see the module docstring) against a generator.

    Args:
        population: Records the training sets are drawn from.
        domain: Their public domain.
        generator: ``generator(train, domain, n_synth, seed) -> synthetic frame``.
        secret: The binary secret column (default: the metadata's target).
        secret_value: The category counted as secret = 1 (default: the column's last).
        quasi_identifiers: Columns the adversary knows (default: all others).
        n_rows: Training-set size.
        games: Repetitions (one generator fit each).
        targets_per_game: Records with unique quasi-identifiers whose secret is redrawn.
        sizes: Synthetic-data sizes to evaluate (default ``[n_rows]``); the largest is
            sampled and the smaller are random subsets of it.
        alpha: One minus the confidence of the accuracy intervals.
        n_jobs: Parallel workers over games.
        random_state: Seed from which each game's seed derives (None: stored or fresh).
        results_path: JSON-lines file of finished games; a rerun resumes from it.

    Returns:
        A :class:`ReconstructionResult`.

    Raises:
        InvalidParameterError: For a secret that is not binary, unknown columns or bad sizes.
        InvalidDataError: If the population is smaller than ``n_rows`` or no game had a target.
    """
    name, value = _resolve_secret(domain, secret, secret_value)
    pos = secret_code(domain, name, value)
    qis = tuple(quasi_identifiers) if quasi_identifiers is not None else tuple(
        c for c in domain.names if c != name
    )
    unknown = [c for c in qis if c not in domain or c == name]
    if unknown or not qis:
        raise InvalidParameterError(
            f"Quasi-identifiers must be columns of the domain other than the secret {name!r}. "
            f"Got {list(qis)}."
        )
    size_list = tuple(int(s) for s in (sizes if sizes is not None else [n_rows]))
    if n_rows < 2 or games < 1 or targets_per_game < 1 or not size_list or min(size_list) < 1:
        raise InvalidParameterError(
            "Need n_rows >= 2, games >= 1, targets_per_game >= 1 and synthetic sizes >= 1. Got "
            f"n_rows={n_rows!r}, games={games!r}, targets_per_game={targets_per_game!r}, "
            f"sizes={list(size_list)!r}."
        )
    if not 0 < alpha < 1:
        raise InvalidParameterError(f"The 'alpha' parameter must be in (0, 1). Got {alpha!r}.")
    if len(population) < n_rows:
        raise InvalidDataError(
            f"The population has {len(population)} records; a training set of n_rows={n_rows} "
            "needs at least as many. Lower n_rows."
        )
    path = Path(results_path) if results_path is not None else None
    done = _read_done(path) if path is not None else {}
    stored = {int(r["entropy"]) for r in done.values()}
    if random_state is None:
        entropy = stored.pop() if len(stored) == 1 else int(np.random.default_rng().integers(2**62))
    else:
        entropy = int(random_state)
    if stored and stored != {entropy}:
        raise InvalidParameterError(
            f"{path} holds games played with another random_state; use that seed or a new file."
        )
    wanted = {str(s) for s in size_list}
    records = {
        g: r for g, r in done.items() if g < games and (not r["truth"] or wanted <= set(r["scores"]))
    }
    todo = [g for g in range(games) if g not in records]
    with track("reconstruction games", total=games) as update:
        update(len(records))
        if todo:
            jobs = (
                delayed(_play_recon)(
                    population, domain, generator, name, pos, qis, n_rows, size_list,
                    targets_per_game, entropy, g,
                )
                for g in todo
            )
            collect_games(Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs), records, path, update)
    order = sorted(records)
    truth = np.array([b for g in order for b in records[g]["truth"]], dtype=int)
    if len(truth) == 0:
        raise InvalidDataError(
            "No training set had a record with unique quasi-identifiers; add quasi-identifiers "
            "or raise n_rows."
        )
    by_size: dict[int, dict[str, MethodScore]] = {}
    for size in size_list:
        by_size[size] = {}
        for method in METHODS:
            scores = np.array(
                [v for g in order if records[g]["truth"] for v in records[g]["scores"][str(size)][method]]
            )
            by_size[size][method] = _score(truth, scores, alpha)
    return ReconstructionResult(
        secret=name,
        secret_value=value,
        quasi_identifiers=qis,
        n_rows=n_rows,
        games=len(order),
        targets=len(truth),
        sizes=size_list,
        by_size=by_size,
        alpha=alpha,
    )
