"""The membership-inference privacy game, and the choice of targets.

One game (TAPAS, Houssiau et al. 2022; Stadler et al. 2022), for a fixed target record:

1. draw m − 1 other records from the population, without replacement;
2. flip a fair coin; on heads add the target (member), on tails do not;
3. fit the generator on that training set with the game's own seed and sample ``n_synth`` rows;
4. hand the synthetic rows (only) to each attack, which returns a membership score.

The two worlds differ by adding or removing the target, the neighbouring relation of
dpsynth's guarantees, so an ε-DP generator bounds every attack by ε (a replace-one game would
allow 2ε). Each game's randomness derives from ``(random_state, target, game)`` alone, so
games can run in any order, in parallel, and be resumed from a JSON-lines file.

The game reads raw rows on purpose: it audits a release, it is not part of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.neighbors import NearestNeighbors

from dpsynth.audit.attacks import Attack, encode_codes, standardise
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.progress import track

#: ``generator(train, domain, n_synth, seed) -> synthetic frame``.
Generator = Callable[[pd.DataFrame, Domain, int, int], pd.DataFrame]


class SynthesizerGenerator:
    """Wrap a registered synthesizer as a game :data:`Generator` (picklable, for joblib).

    Args:
        name: Registry key, e.g. ``"mst"``.
        epsilon: The ε each fit spends.
        delta: The δ each fit spends.
        params: Hyper-parameters for :func:`dpsynth.synth.create`.
    """

    def __init__(self, name: str, *, epsilon: float, delta: float = 1e-6, **params: Any) -> None:
        self.name = name
        self.epsilon = epsilon
        self.delta = delta
        self.params = params

    def __call__(
        self, train: pd.DataFrame, domain: Domain, n_synth: int, seed: int
    ) -> pd.DataFrame:
        """Fit on ``train`` with ``seed`` and sample ``n_synth`` rows."""
        from dpsynth.data.private import PrivateData
        from dpsynth.privacy import PrivacyBudget
        from dpsynth.synth import create

        model = create(self.name, random_state=seed, **self.params)
        model.fit(PrivateData(train, domain), PrivacyBudget(self.epsilon, self.delta))
        out: pd.DataFrame = model.sample(n_synth, random_state=seed + 1)
        return out


def resample_rows(train: pd.DataFrame, domain: Domain, n_synth: int, seed: int) -> pd.DataFrame:
    """A non-private baseline "generator": ``n_synth`` training rows drawn with replacement.

    Not differentially private at any ε: the audit must catch it (the positive control).
    """
    idx = np.random.default_rng(seed).integers(0, len(train), size=n_synth)
    return train.iloc[idx].reset_index(drop=True)


def select_targets(
    population: pd.DataFrame,
    domain: Domain,
    n_targets: int = 1,
    *,
    method: Literal["outliers", "random"] = "outliers",
    k: int = 5,
    random_state: int | np.random.Generator | None = None,
) -> list[int]:
    """Positions (0-based) in ``population`` of the records to audit.

    ``"outliers"`` (default) takes the records with the largest mean distance to their k
    nearest neighbours on the standardised encoding, the records most at risk (Meeus et al.
    2023); ``"random"`` draws uniformly.

    Raises:
        InvalidParameterError: For an unknown method or too many targets.
    """
    n = len(population)
    if not 1 <= n_targets <= n:
        raise InvalidParameterError(
            f"The 'n_targets' parameter must be in [1, {n}]. Got {n_targets!r}."
        )
    if method == "random":
        rng = np.random.default_rng(random_state)
        return [int(i) for i in rng.choice(n, size=n_targets, replace=False)]
    if method != "outliers":
        raise InvalidParameterError(
            f"The 'method' parameter must be 'outliers' or 'random'. Got {method!r}."
        )
    x = standardise(encode_codes(population, domain), domain)
    kk = min(k + 1, n)
    dist, _ = NearestNeighbors(n_neighbors=kk).fit(x).kneighbors(x)
    score = dist[:, 1:].mean(axis=1) if kk > 1 else np.zeros(n)
    order = np.argsort(-score, kind="stable")
    return [int(i) for i in order[:n_targets]]


@dataclass
class GameResults:
    """(score, member) pairs of every game played for one target.

    Attributes:
        target: Position of the target in the population.
        members: Whether the target was a member, per game.
        scores: Per attack name, the score of each game.
        games: Game indices, in the order of ``members``.
    """

    target: int
    members: np.ndarray
    scores: dict[str, np.ndarray]
    games: list[int] = field(default_factory=list)


def _play(
    population: pd.DataFrame,
    domain: Domain,
    generator: Generator,
    attacks: Mapping[str, Attack],
    target: int,
    game: int,
    entropy: int,
    m: int,
    n_synth: int,
    use_reference: bool,
) -> dict[str, Any]:
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(target, game)))
    member = bool(rng.random() < 0.5)
    others = np.delete(np.arange(len(population)), target)
    chosen = rng.choice(others, size=m - 1, replace=False)
    rows = np.append(chosen, target) if member else chosen
    train = population.iloc[np.sort(rows)].reset_index(drop=True)
    seed = int(rng.integers(2**31 - 2))
    synthetic = generator(train, domain, n_synth, seed)
    target_row = population.iloc[target]
    reference = None
    wants = {name: use_reference or bool(getattr(a, "needs_reference", False)) for name, a in attacks.items()}
    if any(wants.values()):
        # The adversary's auxiliary data: population records outside this training set.
        rest = np.setdiff1d(others, chosen)
        reference = population.iloc[rest].reset_index(drop=True)
    scores = {
        name: float(
            a.score(synthetic, target_row, domain=domain, reference=reference if wants[name] else None)
        )
        for name, a in attacks.items()
    }
    return {"entropy": entropy, "target": target, "game": game, "member": member, "scores": scores}


def _read_done(path: Path, target: int) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    done: dict[int, dict[str, Any]] = {}
    with path.open() as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interrupted run; that game is replayed
            if rec.get("target") == target:
                done[int(rec["game"])] = rec
    return list(done.values())


def collect_games(
    results: Iterable[dict[str, Any]],
    records: dict[int, dict[str, Any]],
    path: Path | None,
    update: Callable[[int], None],
) -> None:
    """Store each finished game in ``records`` and append it to ``path`` at once (resumable)."""
    from dpsynth.audit._private import open_private

    fh = open_private(path, "a") if path is not None else None
    try:
        for rec in results:
            records[int(rec["game"])] = rec
            if fh is not None:
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            update(len(records))
    finally:
        if fh is not None:
            fh.close()


def play_games(
    population: pd.DataFrame,
    domain: Domain,
    generator: Generator,
    attacks: Mapping[str, Attack] | Sequence[Attack] | Attack,
    *,
    target: int,
    m: int,
    games: int,
    n_synth: int | None = None,
    use_reference: bool = False,
    n_jobs: int = 1,
    random_state: int | None = None,
    results_path: str | os.PathLike[str] | None = None,
) -> GameResults:
    """Play ``games`` membership games for one target.

    Args:
        population: The records games draw from (the target among them).
        domain: The public domain of the population.
        generator: ``generator(train, domain, n_synth, seed) -> synthetic frame``; e.g.
            :class:`SynthesizerGenerator`.
        attacks: One attack, a sequence, or a mapping name → attack.
        target: Position of the target record in ``population``.
        m: Training-set size with the target (m − 1 without).
        games: Number of games.
        n_synth: Synthetic rows per game (default ``m``: the output size is known).
        use_reference: Give every attack the population records outside the training set
            (attacks with ``needs_reference = True``, such as DOMIAS, always get them).
        n_jobs: Parallel workers (joblib; -1 for all cores).
        random_state: Seed from which each game's seed derives. Rerun with the same seed to
            resume; None uses the seed stored in ``results_path``, or a fresh one.
        results_path: JSON-lines file; each finished game is appended, and games already there
            (for this target) are not replayed.

    Returns:
        The :class:`GameResults` of all games, sorted by game index.

    Raises:
        InvalidParameterError: For bad sizes, or a results file written with another seed.
        InvalidDataError: If the population is too small.
    """
    if isinstance(attacks, Mapping):
        attack_map = dict(attacks)
    elif isinstance(attacks, Sequence):
        attack_map = {a.name: a for a in attacks}
    else:
        attack_map = {attacks.name: attacks}
    if not attack_map:
        raise InvalidParameterError("Give at least one attack.")
    n = len(population)
    if not 0 <= target < n:
        raise InvalidParameterError(f"The 'target' parameter must be in [0, {n}). Got {target!r}.")
    if m < 2 or games < 1:
        raise InvalidParameterError(
            f"The 'm' parameter must be >= 2 and 'games' >= 1. Got m={m!r}, games={games!r}."
        )
    if m - 1 > n - 1:
        raise InvalidDataError(
            f"The population has {n} records; a training set of m={m} needs at least {m}."
        )
    n_synth = m if n_synth is None else n_synth
    if n_synth < 1:
        raise InvalidParameterError(f"The 'n_synth' parameter must be >= 1. Got {n_synth!r}.")

    path = Path(results_path) if results_path is not None else None
    done = _read_done(path, target) if path is not None else []
    stored = {int(r["entropy"]) for r in done}
    if random_state is None:
        fresh = int(np.random.default_rng().integers(2**62))
        entropy = stored.pop() if len(stored) == 1 else fresh
    else:
        entropy = int(random_state)
    if stored and stored != {entropy}:
        raise InvalidParameterError(
            f"{path} holds games played with another random_state; use that seed or a new file."
        )
    records = {int(r["game"]): r for r in done if int(r["game"]) < games}
    todo = [g for g in range(games) if g not in records]

    if todo:
        # Attacks with a training phase (shadow models) are trained once per target, before
        # the games; attacks that share the cache share the shadow fits.
        cache: dict[Any, Any] = {}
        attack_map = {
            name: (
                a.prepare(  # type: ignore[attr-defined]
                    population, domain, generator, target=target, m=m, n_synth=n_synth,
                    n_jobs=n_jobs, cache=cache,
                )
                if callable(getattr(a, "prepare", None))
                else a
            )
            for name, a in attack_map.items()
        }
    with track(f"membership games (target {target})", total=games) as update:
        update(len(records))
        if todo:
            runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            jobs = (
                delayed(_play)(
                    population,
                    domain,
                    generator,
                    attack_map,
                    target,
                    g,
                    entropy,
                    m,
                    n_synth,
                    use_reference,
                )
                for g in todo
            )
            collect_games(runner(jobs), records, path, update)

    order = sorted(records)
    missing = [name for name in attack_map if any(name not in records[g]["scores"] for g in order)]
    if missing:
        raise InvalidParameterError(
            f"{path} holds games without scores for {missing}; use a new results file."
        )
    return GameResults(
        target=target,
        members=np.array([bool(records[g]["member"]) for g in order]),
        scores={
            name: np.array([float(records[g]["scores"][name]) for g in order])
            for name in attack_map
        },
        games=order,
    )
