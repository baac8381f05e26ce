"""A full audit of one generator: membership inference and reconstruction, in one call.

:func:`run_audit` plays the membership games (closest-distance, query-based, DOMIAS and the
three shadow-model feature sets by default) and the linear-reconstruction game against a
registered generator at a claimed (ε, δ), and returns an :class:`AuditReport` that the CLI
writes as JSON and the HTML report draws. Games are written to a work folder as they
finish, so an interrupted audit resumes where it stopped.

Several attacks are tested against one claim, so each attack's bound is computed at
α / (number of attacks) (Bonferroni): the report's verdict "violation" keeps its stated
confidence whichever attack triggers it.

A verdict of "consistent" must mean that the attacks could have found a leak on this data.
So the membership games are also played, with the same attacks, targets and settings,
against the non-private baseline (``resample``: synthetic rows drawn from the training
rows) as a built-in positive control. An attack's "consistent" counts only if the same
attack flags the control as a violation; otherwise the audit reads "inconclusive". The
control's result is reported beside the verdict.

The audit records what it audited: the generator, its parameters, the claimed (ε, δ) and a
fingerprint of the audited rows (:func:`data_fingerprint`), so that a report can refuse or
flag an audit of another release.

The audit reads raw rows on purpose: it measures the release, it is not part of it. Its
report is for the data steward; it is not differentially private.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dpsynth.audit._private import private_dir, write_private
from dpsynth.audit.attacks import Attack, get_attack
from dpsynth.audit.epsilon import Verdict
from dpsynth.audit.game import Generator, SynthesizerGenerator, resample_rows
from dpsynth.audit.membership import MembershipAudit, audit_membership
from dpsynth.audit.reconstruction import ReconstructionResult, audit_reconstruction
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError

#: The membership attacks a full audit runs by default.
DEFAULT_MIA = (
    "closest_distance",
    "query",
    "domias",
    "groundhog_naive",
    "groundhog_histogram",
    "groundhog_correlation",
)

#: Non-private baselines accepted as ``generator`` (positive controls).
BASELINES: dict[str, Generator] = {"resample": resample_rows}

RAW_ROWS_NOTE = (
    "The audit reads raw rows on purpose: it measures the release, it is not part of it. "
    "This report is for the data steward and is not differentially private."
)

_SEVERITY = {"violation": 2, "consistent": 1, "inconclusive": 0}


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`run_audit`.

    Attributes:
        generator: The audited generator's name.
        epsilon_claimed: The ε it claims per fit.
        delta: The δ it claims.
        membership: The membership-inference audit (None if not run).
        reconstruction: The reconstruction audit (None if not run).
        verdict: ``"violation"`` if a membership bound exceeds the claim, ``"consistent"``
            if an attack is conclusive and below it and the same attack flags the positive
            control, else ``"inconclusive"``.
        settings: The audit's settings (games, sizes, attacks, seed…).
        wall_seconds: Wall time of the whole audit: this call plus every earlier call that
            played games into the same ``work_dir`` (an interrupted call counts up to its stop).
        control: The same membership games played against the non-private baseline
            (``resample``), None when the control was not run.
    """

    generator: str
    epsilon_claimed: float
    delta: float
    membership: MembershipAudit | None
    reconstruction: ReconstructionResult | None
    verdict: Verdict
    settings: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    control: MembershipAudit | None = None

    @property
    def control_flagged_by(self) -> list[str]:
        """The attacks that flag the positive control (a violation on the non-private baseline)."""
        if self.control is None:
            return []
        return [k for k, r in self.control.results.items() if r.verdict == "violation"]

    def control_summary(self) -> str:
        """One sentence on the positive control ('' when membership inference was not run)."""
        if self.membership is None:
            return ""
        if self.control is None:
            return (
                "No positive control was run, so the attacks' power on this data is unknown: "
                "the audit cannot read consistent."
            )
        s = self.control.strongest
        flagged = self.control_flagged_by
        return (
            f"Positive control (non-private resample, same attacks and games): strongest "
            f"'{s.attack}' ε ≥ {s.epsilon_lb:.3g}, AUC {s.auc:.3f}; "
            + (
                f"flagged as a violation by {', '.join(flagged)}."
                if flagged
                else "no attack flagged it, so these attacks cannot show a leak on this data."
            )
        )

    def summary(self) -> str:
        """A few sentences for people: the verdict and the strongest evidence."""
        parts = [
            f"Audit of {self.generator} at claimed ε = {self.epsilon_claimed:g}, "
            f"δ = {self.delta:g}: {self.verdict}."
        ]
        if self.membership is not None:
            parts.append(self.membership.summary())
            parts.append(self.control_summary())
        if self.reconstruction is not None:
            parts.append(self.reconstruction.summary())
        return " ".join(parts)

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: the verdict, its evidence and the settings."""
        from dpsynth import _notebook as nb

        return nb.card(
            f"Privacy audit of {self.generator}: {self.verdict}",
            nb.paragraph(self.summary()),
            nb.table(["setting", "value"], sorted(
                (k, "recorded (not shown)" if k == "data_fingerprint" else v) for k, v in self.settings.items())),
            nb.paragraph(f"Wall time: {self.wall_seconds:.1f} s. " + RAW_ROWS_NOTE),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (what ``dpsynth audit --out`` writes)."""
        return {
            "kind": "dpsynth-audit",
            "version": 1,
            "reads_raw_rows": True,
            "note": RAW_ROWS_NOTE,
            "generator": self.generator,
            "epsilon_claimed": self.epsilon_claimed,
            "delta": self.delta,
            "verdict": self.verdict,
            "summary": self.summary(),
            "settings": self.settings,
            "wall_seconds": self.wall_seconds,
            "membership": None if self.membership is None else self.membership.to_dict(),
            "reconstruction": None if self.reconstruction is None else self.reconstruction.to_dict(),
            "control": None if self.control is None else {
                "generator": "resample",
                "verdict": self.control.verdict,
                "flagged_by": self.control_flagged_by,
                "summary": self.control_summary(),
                "membership": self.control.to_dict(),
            },
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> AuditReport:
        """Inverse of :meth:`to_dict`.

        Raises:
            InvalidDataError: If ``doc`` is not an audit written by dpsynth.
        """
        try:
            if doc.get("kind") != "dpsynth-audit":
                raise KeyError("kind")
            mem = doc.get("membership")
            rec = doc.get("reconstruction")
            ctl = doc.get("control")
            return cls(
                generator=str(doc["generator"]),
                epsilon_claimed=float(doc["epsilon_claimed"]),
                delta=float(doc["delta"]),
                membership=None if mem is None else MembershipAudit.from_dict(mem),
                reconstruction=None if rec is None else ReconstructionResult.from_dict(rec),
                verdict=doc["verdict"],
                settings=dict(doc.get("settings") or {}),
                wall_seconds=float(doc.get("wall_seconds") or 0.0),
                control=None if not ctl else MembershipAudit.from_dict(ctl["membership"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            raise InvalidDataError(
                "This is not an audit written by `dpsynth audit --out` (or run_audit(...).save)."
            ) from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_dict` as JSON, atomically."""
        from dpsynth._files import atomic_open

        with atomic_open(path, "w") as fh:
            fh.write(
                json.dumps(_clean_nan(self.to_dict()), indent=2, allow_nan=False, default=_json_default)
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AuditReport:
        """Read an audit JSON file.

        Raises:
            InvalidDataError: If the file is not an audit JSON.
        """
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidDataError(f"{path} is not JSON; give the file `dpsynth audit --out` wrote.") from None
        if not isinstance(doc, dict):
            raise InvalidDataError(f"{path} is not an audit JSON file.")
        return cls.from_dict(doc)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:  # pragma: no cover - nan handled upstream
        return None
    raise TypeError(f"not JSON: {type(value).__name__}")


def _clean_nan(doc: Any) -> Any:
    if isinstance(doc, float) and not np.isfinite(doc):
        return None
    if isinstance(doc, dict):
        return {k: _clean_nan(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_clean_nan(v) for v in doc]
    return doc


def data_fingerprint(frame: pd.DataFrame, domain: Domain) -> str:
    """SHA-256 fingerprint of a table's rows, as the metadata reads them: ``"sha256:<hex>"``.

    Each value is put in canonical text as dpsynth parses it (numbers as their shortest exact
    decimal, a whole number without ``.0``, so the CSV field ``39``, an integer 39 and a float
    39.0 agree; datetimes as seconds since 1970; categories as stripped text; a missing value
    as its own marker), one row is the length-prefixed values of the domain's columns in
    name order, and the hash runs over the column names, then the rows' encodings
    in sorted order. So the fingerprint depends on the multiset of rows only: re-reading the
    same file (CSV or Parquet, any row order, typed or as text) gives the same fingerprint,
    and any changed, added or removed row gives another.

    Privacy: the fingerprint identifies the dataset exactly and is not differentially
    private: whoever holds all rows but one can recover the last one's values by hashing
    candidates. It is a private artefact of the audit (kept in the audit JSON and its
    owner-only work folder), used to check that a report's audit was played on the report's
    data; it is never shown in a report and is not for release.

    Args:
        frame: The rows (columns named as in ``domain``; others are ignored).
        domain: The metadata: which columns, and how each value is parsed.

    Raises:
        InvalidDataError: If ``frame`` lacks a column of ``domain``.
    """
    from dpsynth.data._parse import _stripped, missing_mask, numbers, text_values
    from dpsynth.data.domain import category_key

    absent = [n for n in domain.names if n not in frame.columns]
    if absent:
        raise InvalidDataError(f"The data lacks the metadata's columns {absent}.")
    digest = hashlib.sha256()
    rows: np.ndarray | None = None
    for name in sorted(domain.names):
        col = domain[name]
        values = frame[name].reset_index(drop=True)
        missing = missing_mask(col, values)
        raw = _stripped(text_values(values))
        text = np.array(["" if t is None else t for t in raw], dtype=object)
        if col.is_numeric:  # numbers and datetimes: the parsed value, whatever its spelling
            x = numbers(col, values)
            ok = ~np.isnan(x)
            text[ok] = [category_key(float(v)) for v in x[ok]]
        text[missing] = ""
        tag = np.where(missing, "m", "v").astype(object)
        digest.update(f"{len(name)}:{name};".encode())
        lengths = pd.Series(text, dtype=object).str.len().astype(str).to_numpy(dtype=object)
        cell = tag + lengths + ":" + text + ";"
        rows = cell if rows is None else rows + cell
    if rows is not None:
        for row in np.sort(rows):
            encoded = str(row).encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
    return "sha256:" + digest.hexdigest()


def _make_generator(
    generator: str | Generator, epsilon: float, delta: float, params: dict[str, Any]
) -> tuple[str, Generator]:
    if callable(generator):
        return getattr(generator, "name", getattr(generator, "__name__", "custom")), generator
    if generator in BASELINES:
        return generator, BASELINES[generator]
    from dpsynth.synth.registry import available

    if generator not in available():
        raise InvalidParameterError(
            f"Unknown generator {generator!r}. Choose one of {available() + sorted(BASELINES)}."
        )
    return generator, SynthesizerGenerator(generator, epsilon=epsilon, delta=delta, **params)


def _complete_from_rows(frame: pd.DataFrame, dom: Domain) -> Domain:
    """Fill the categories and bounds the metadata leaves unknown from the audited rows.

    The audit reads raw rows on purpose (it measures a release and is not part of one), and
    its games need one fixed domain to encode attacks and fit the generator in every game;
    the columns completed this way are listed in the audit's settings.
    """
    from dpsynth.data._parse import missing_mask, numbers

    new = []
    for col in dom:
        if not col.needs_inference:
            continue
        values = frame[col.name]
        present = values[~missing_mask(col, values)]
        if col.is_numeric:
            x = numbers(col, present)
            x = x[~np.isnan(x)]
            if x.size == 0:
                raise InvalidDataError(f"Column {col.name!r} has no numbers to bound; declare its bounds.")
            lo, hi = float(x.min()), float(x.max())
            if col.integer:
                lo, hi = float(np.floor(lo)), float(np.ceil(hi))
            new.append(col.replace(lower=col.lower if col.lower is not None else lo,
                                   upper=col.upper if col.upper is not None else max(hi, lo + 1.0)))
        else:
            new.append(col.replace(categories=tuple(sorted({str(v).strip() for v in present}))))
    return dom.with_columns(new)


def _load(
    data: pd.DataFrame | str | os.PathLike[str],
    domain: Domain | str | os.PathLike[str] | dict[str, Any] | None,
) -> tuple[pd.DataFrame, Domain]:
    if domain is None:
        raise InvalidParameterError(
            "The audit needs complete public metadata (categories and bounds of every column): "
            "pass metadata=... (CLI: --metadata meta.json)."
        )
    dom = domain if isinstance(domain, Domain) else Domain.from_json(
        domain if isinstance(domain, dict) else Path(domain)
    )
    if isinstance(data, pd.DataFrame):
        frame = data
        missing = [c for c in dom.names if c not in frame.columns]
        if missing:
            raise InvalidDataError(f"The data lacks the metadata's columns {missing}.")
        frame = frame[list(dom.names)].reset_index(drop=True)
    else:
        from dpsynth.data.io import Table

        with Table.from_path(data) as table:
            frame = table.to_frame(dom)
    if len(frame) < 4:
        raise InvalidDataError(f"The data has {len(frame)} rows; an audit needs at least 4.")
    if dom.needs_inference:
        dom = _complete_from_rows(frame, dom)
    # Reject values outside the declared domain now, with the column named, instead of
    # deep inside a game.
    from dpsynth.audit.attacks import encode_codes

    codes = encode_codes(frame, dom)
    bad = [dom.names[j] for j in range(codes.shape[1]) if (codes[:, j] < 0).any()]
    if bad:
        raise InvalidDataError(
            f"Values outside the metadata's categories or bounds, or missing where not allowed, "
            f"in columns {bad}. Fix the data or the metadata."
        )
    return frame, dom


def run_audit(
    data: pd.DataFrame | str | os.PathLike[str],
    metadata: Domain | str | os.PathLike[str] | dict[str, Any] | None,
    *,
    generator: str | Generator = "mst",
    epsilon: float,
    delta: float = 1e-6,
    params: dict[str, Any] | None = None,
    attacks: Sequence[str] = ("mia", "recon"),
    mia_attacks: Sequence[str] | None = None,
    games: int = 200,
    targets: Literal["outliers", "random"] = "outliers",
    n_targets: int = 1,
    m: int | None = None,
    n_synth: int | None = None,
    n_shadows: int = 20,
    recon_games: int = 10,
    recon_rows: int | None = None,
    recon_sizes: Sequence[int] | None = None,
    secret: str | None = None,
    quasi_identifiers: Sequence[str] | None = None,
    alpha: float = 0.05,
    n_jobs: int = 1,
    random_state: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    control: bool = True,
) -> AuditReport:
    """Audit a generator's claimed (ε, δ) with membership inference and reconstruction.

    Args:
        data: The population the games draw training sets from (a DataFrame or a CSV/Parquet
            path).
        metadata: Complete public metadata (Domain, JSON path or dict).
        generator: A registry name (``"mst"``, ``"aim"``…), ``"resample"`` (non-private
            baseline) or a callable ``generator(train, domain, n_synth, seed) -> frame``.
        epsilon: The claimed ε of one fit (the fits spend it).
        delta: The claimed δ.
        params: Generator hyper-parameters.
        attacks: ``"mia"`` (membership inference) and/or ``"recon"`` (reconstruction).
        mia_attacks: Membership attacks by name (default :data:`DEFAULT_MIA`).
        games: Membership games per target.
        targets: ``"outliers"`` (default) or ``"random"``.
        n_targets: How many targets.
        m: Training-set size of a membership game (default min(1000, rows // 2)).
        n_synth: Synthetic rows per game (default m).
        n_shadows: Shadow fits per target for the shadow-model attacks.
        recon_games: Reconstruction games (one fit each).
        recon_rows: Training-set size of a reconstruction game (default m).
        recon_sizes: Synthetic sizes for reconstruction (default [recon_rows, 10 × recon_rows]).
        secret: Binary secret column for reconstruction (default: the metadata's target).
        quasi_identifiers: Columns the reconstruction adversary knows (default: all others).
        alpha: One minus the confidence (split over the membership attacks).
        n_jobs: Parallel workers over games (-1: all cores).
        random_state: Seed of the games (None: fresh, or the stored one when resuming).
            Generator fits inside the games are seeded from it: their noise is reproducible,
            which is right for an audit and wrong for a release.
        work_dir: Folder for finished games (JSON lines) and the audit's settings.
        resume: Continue the games in ``work_dir``; without it an existing folder is cleared.
        control: Also play the membership games against the non-private baseline
            (``resample``) with the same attacks and settings (the positive control). Without
            it the audit never reads "consistent": nothing shows the attacks could find a leak.

    Returns:
        An :class:`AuditReport`.

    Raises:
        InvalidParameterError: For bad settings, unknown generators or attacks.
        InvalidDataError: For data the metadata does not describe.
    """
    t0 = time.perf_counter()
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not epsilon > 0:
        raise InvalidParameterError(f"The 'epsilon' parameter must be > 0. Got {epsilon!r}.")
    if not 0 <= delta < 1:
        raise InvalidParameterError(f"The 'delta' parameter must be in [0, 1). Got {delta!r}.")
    kinds = [a.strip() for a in attacks if a.strip()]
    unknown = [a for a in kinds if a not in ("mia", "recon")]
    if unknown or not kinds:
        raise InvalidParameterError(
            f"The 'attacks' parameter takes 'mia' and/or 'recon'. Got {list(attacks)!r}."
        )
    if games < 2 or n_targets < 1 or recon_games < 1:
        raise InvalidParameterError(
            f"Need games >= 2, n_targets >= 1 and recon_games >= 1. Got games={games!r}, "
            f"n_targets={n_targets!r}, recon_games={recon_games!r}."
        )
    if targets not in ("outliers", "random"):
        raise InvalidParameterError(
            f"The 'targets' parameter must be 'outliers' or 'random'. Got {targets!r}."
        )
    mia_names = list(mia_attacks) if mia_attacks is not None else list(DEFAULT_MIA)
    atk = _attacks(mia_names, n_shadows)
    name, gen = _make_generator(generator, float(epsilon), float(delta), dict(params or {}))
    incomplete = [] if metadata is None else list(
        (metadata if isinstance(metadata, Domain) else Domain.from_json(
            metadata if isinstance(metadata, dict) else Path(metadata))).needs_inference)
    population, dom = _load(data, metadata)
    m_ = m if m is not None else max(2, min(1000, len(population) // 2))
    rows_ = recon_rows if recon_rows is not None else m_
    sizes_ = list(recon_sizes) if recon_sizes is not None else [rows_, 10 * rows_]

    settings: dict[str, Any] = {
        "generator": name,
        "params": dict(params or {}),
        "epsilon": float(epsilon),
        "delta": float(delta),
        "attacks": kinds,
        "mia_attacks": mia_names,
        "games": games,
        "targets": targets,
        "n_targets": n_targets,
        "m": m_,
        "n_synth": n_synth if n_synth is not None else m_,
        "n_shadows": n_shadows,
        "recon_games": recon_games,
        "recon_rows": rows_,
        "recon_sizes": sizes_,
        "secret": secret,
        "quasi_identifiers": None if quasi_identifiers is None else list(quasi_identifiers),
        "alpha": alpha,
        "population_rows": len(population),
        "control": bool(control),
        # Columns whose categories or bounds the metadata left unknown: the audit completed them
        # from the audited rows (it reads raw rows on purpose), so every game shares one domain.
        "completed_from_rows": incomplete,
        # Which rows were audited, to check a report's audit against the report's data (a
        # private value, like the rest of the audit: see data_fingerprint).
        "data_fingerprint": data_fingerprint(population, dom),
    }
    folder = Path(work_dir) if work_dir is not None else None
    seed = random_state
    earlier_seconds = 0.0  # wall time of earlier calls on the same folder (resume)
    if folder is not None:
        state_path = folder / "state.json"
        if resume and state_path.exists():
            state = json.loads(state_path.read_text(encoding="utf-8"))
            changed = sorted(
                k for k in settings
                if k not in ("games", "recon_games") and state["settings"].get(k) != _clean_nan(settings[k])
            )
            if changed:
                raise InvalidParameterError(
                    f"--resume with different settings ({', '.join(changed)}) than the audit in "
                    f"{folder}; rerun with the same settings or without --resume."
                )
            if seed is not None and seed != state["seed"]:
                raise InvalidParameterError(
                    f"The audit in {folder} was played with random_state={state['seed']}; "
                    "resume with that seed or none."
                )
            seed = int(state["seed"])
            earlier_seconds = float(state.get("wall_seconds") or 0.0)
        elif folder.exists() and not resume:
            shutil.rmtree(folder)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    settings["random_state"] = seed

    def save_state() -> None:
        if folder is not None:
            spent = earlier_seconds + (time.perf_counter() - t0)
            doc = {"seed": seed, "settings": _clean_nan(settings), "wall_seconds": spent}
            write_private(folder / "state.json", json.dumps(doc, indent=2))

    if folder is not None:
        private_dir(folder)
        save_state()

    def play() -> AuditReport:
        membership = None
        if "mia" in kinds:
            membership = audit_membership(
                population,
                dom,
                gen,
                epsilon_claimed=float(epsilon),
                delta=float(delta),
                m=m_,
                games=games,
                attacks=atk,
                targets=targets,
                n_targets=n_targets,
                n_synth=n_synth,
                alpha=alpha / len(atk),
                n_jobs=n_jobs,
                random_state=seed,
                results_dir=folder,
            )
        reconstruction = None
        if "recon" in kinds:
            reconstruction = audit_reconstruction(
                population,
                dom,
                gen,
                secret=secret,
                quasi_identifiers=quasi_identifiers,
                n_rows=rows_,
                games=recon_games,
                sizes=sizes_,
                alpha=alpha,
                n_jobs=n_jobs,
                random_state=seed,
                results_path=None if folder is None else folder / "reconstruction_games.jsonl",
            )
        control_audit = None
        if membership is not None and control:
            if gen is resample_rows:
                control_audit = membership  # the generator is the non-private baseline itself
            else:
                control_audit = audit_membership(
                    population,
                    dom,
                    resample_rows,
                    epsilon_claimed=float(epsilon),
                    delta=float(delta),
                    m=m_,
                    games=games,
                    attacks=_attacks(mia_names, n_shadows),
                    targets=list(membership.targets),
                    n_synth=n_synth,
                    alpha=alpha / len(atk),
                    n_jobs=n_jobs,
                    random_state=seed,
                    results_dir=None if folder is None else folder / "control",
                )
        verdict = _controlled_verdict(membership, control_audit)
        return AuditReport(
            generator=name,
            epsilon_claimed=float(epsilon),
            delta=float(delta),
            membership=membership,
            reconstruction=reconstruction,
            verdict=verdict,
            settings=settings,
            wall_seconds=time.perf_counter() - t0,
            control=control_audit,
        )

    try:
        report = play()
    finally:
        # Also on Ctrl-C: a resumed audit reports the time of every call, not only its last.
        save_state()
    return dataclasses.replace(report, wall_seconds=earlier_seconds + (time.perf_counter() - t0))


def _attacks(names: Sequence[str], n_shadows: int) -> list[Attack]:
    """Fresh attack instances by name (shadow attacks keep state from their preparation)."""
    out: list[Attack] = []
    for name in names:
        a = get_attack(name)
        if hasattr(a, "n_shadows"):
            setattr(a, "n_shadows", n_shadows)  # noqa: B010 - not every Attack has it
        out.append(a)
    return out


def _controlled_verdict(membership: MembershipAudit | None, control: MembershipAudit | None) -> Verdict:
    """The audit's verdict: "consistent" only for attacks that flag the positive control."""
    if membership is None:
        return "inconclusive"
    if membership.verdict == "violation":
        return "violation"
    if control is None:
        return "inconclusive"
    powered = [
        name for name, r in membership.results.items()
        if r.verdict == "consistent" and name in control.results and control.results[name].verdict == "violation"
    ]
    return "consistent" if powered else "inconclusive"
