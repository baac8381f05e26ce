"""Fit one smartnoise-synth peer on a CSV at a given ε and write a synthetic CSV.

Runs in the separate peers venv (``.venv-peers``), never in dpsynth's own; ``benchmarks/run.py``
calls it as a subprocess and evaluates the CSV it writes with dpsynth's metrics. It reads the
dpsynth metadata JSON directly (dpsynth is not installed in the peers venv).

What the peer is told, so that it reads as little as its API allows from the private rows:
- categorical and ordinal columns get the metadata's categories through a fixed label encoder
  (``FixedLabel``), fitted on nothing: by default smartnoise's ``LabelTransformer`` collects
  the set of values present in the private column for free;
- numeric columns get the metadata's bounds and the same discretisation as dpsynth (32
  equal-width bins, or one bin per whole number when an integer range holds at most 32) for
  MST and AIM, and min-max scaling over the bounds for the GANs. Where the metadata leaves a
  bound unknown, smartnoise estimates it with its own DP ``approx_bounds`` at
  ``--preprocessor-share`` of ε (5% by default, dpsynth's default inference share), which it
  subtracts from the training budget.

Sampling: smartnoise-synth 1.0.8 pins ``mbi>=1.1.0,<2``, and mbi 1.1.0's
``synthetic_data(method="round")`` (the default smartnoise uses) ranks the rows of each
parent group in row order without shuffling, so sibling columns generated from the same
parents come out almost perfectly correlated (corr 0.995 for two independent children in a
three-column check). mbi 2.0 shuffles within each group to fix this. ``--iid-out`` writes a
second sample of the same fitted model with ``method="sample"`` (i.i.d. draws, unaffected),
so the harness can report the peer both as shipped and with its sampling fixed.

What it still reads for free (its API offers no way round it; see BENCHMARKS.md):
- MST and AIM take the exact row count (``len(data)``); MST also passes it to the estimator as
  ``known_total``;
- DP-CTGAN and PATE-CTGAN condition training on category frequencies counted from the
  private rows with no noise (``snsynth/pytorch/nn/ctgan/data_sampler.py``).

Usage (from the repository root):
    .venv-peers/bin/python benchmarks/peers/smartnoise_run.py --synth mst --train train.csv \
        --metadata metadata/adult.json --epsilon 1 --delta 1e-5 --rows 30000 --seed 0 \
        --out synth.csv --info info.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_BINS = 32  # dpsynth's default discretisation (dpsynth.data.discretize.DEFAULT_BINS)
PEERS = ("mst", "aim", "dpctgan", "patectgan")


def _fixed_label_class() -> type:
    from snsynth.transform.definitions import ColumnType
    from snsynth.transform.label import LabelTransformer

    class FixedLabel(LabelTransformer):
        """Label encoder over a public category list; never learns categories from the data."""

        def __init__(self, categories: list[Any], nullable: bool) -> None:
            self.fixed = list(categories) + ([None] if nullable else [])
            super().__init__(nullable=nullable)

        @property
        def output_type(self) -> ColumnType:
            return ColumnType.CATEGORICAL

        @property
        def cardinality(self) -> list[int]:
            return [len(self.fixed)]

        def _clear_fit(self) -> None:
            self._reset_fit()
            self.labels = {v: i for i, v in enumerate(self.fixed)}
            self.categories = list(self.fixed)
            self.category = len(self.fixed)
            self.output_width = 1
            self._fit_complete = True

        def _fit(self, val: Any) -> None:
            pass

        def _fit_finish(self) -> None:
            self._fit_complete = True

    class FixedOneHot(FixedLabel):
        """One-hot encoder over a public category list (the GANs' style)."""

        def _clear_fit(self) -> None:
            super()._clear_fit()
            self.output_width = len(self.fixed)

        def _transform(self, val: Any) -> tuple[int, ...]:
            bits = [0] * len(self.fixed)
            bits[self.labels[val]] = 1
            return tuple(bits)

        def _inverse_transform(self, val: Any) -> Any:
            return self.fixed[int(np.argmax(val))]

    FixedLabel.OneHot = FixedOneHot  # type: ignore[attr-defined]
    return FixedLabel


def _columns(meta: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    cols = meta["columns"]
    return list(cols.items()) if isinstance(cols, dict) else [(c["name"], c) for c in cols]


def _tokens(meta: dict[str, Any], spec: dict[str, Any]) -> set[str]:
    return {str(t).strip() for t in (spec.get("missing_values") or meta.get("missing_values") or [])} | {""}


def _is_numeric(spec: dict[str, Any]) -> bool:
    if spec.get("type") == "datetime":
        raise NotImplementedError("datetime columns are not wired to smartnoise in this runner")
    return spec.get("type") == "numeric"


class _IIDSampling:
    """Stands in for a fitted mbi model: ``synthetic_data`` draws i.i.d. (``method="sample"``)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def synthetic_data(self, rows: int | None = None, method: str = "round") -> Any:
        return self.model.synthetic_data(rows, method="sample")


def _capture_privacy_engines() -> list[Any]:
    """Record every opacus PrivacyEngine that gets attached (DP-CTGAN keeps its own local)."""
    import opacus

    engines: list[Any] = []
    attach = opacus.PrivacyEngine.attach

    def recording_attach(self: Any, optimizer: Any) -> Any:
        engines.append(self)
        return attach(self, optimizer)

    opacus.PrivacyEngine.attach = recording_attach
    return engines


def build_transformer(meta: dict[str, Any], synth: str, notes: list[str]) -> Any:
    """One column transformer per metadata column, told every public fact the metadata holds."""
    from snsynth.transform import BinTransformer, MinMaxTransformer, TableTransformer

    fixed_label = _fixed_label_class()
    cube = synth in ("mst", "aim")
    out = []
    for name, spec in _columns(meta):
        nullable = bool(spec.get("nullable", False))
        if not _is_numeric(spec):
            cats = [str(c) for c in spec["categories"]]
            out.append(fixed_label(cats, nullable) if cube else fixed_label.OneHot(cats, nullable))
            continue
        lo, hi = spec.get("lower"), spec.get("upper")
        if lo is None or hi is None:
            notes.append(f"{name}: bound(s) unknown in the metadata, estimated by smartnoise with DP")
        if cube:
            bins = DEFAULT_BINS
            if spec.get("integer") and lo is not None and hi is not None and hi - lo + 1 <= DEFAULT_BINS:
                bins, hi = int(hi - lo + 1), hi + 1  # one bin per whole number
            out.append(BinTransformer(bins=bins, lower=lo, upper=hi, nullable=nullable))
        else:
            out.append(MinMaxTransformer(lower=lo, upper=hi, nullable=nullable))
    return TableTransformer(out)


def read_private(path: Path, meta: dict[str, Any]) -> pd.DataFrame:
    """The training CSV with metadata columns only; missing tokens → None; numbers as floats."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = {}
    for name, spec in _columns(meta):
        tokens = _tokens(meta, spec)
        col = raw[name].str.strip()
        missing = col.isin(tokens)
        if _is_numeric(spec):
            vals = pd.to_numeric(col.where(~missing), errors="raise").astype(float)
            frame[name] = [None if m else v for v, m in zip(vals, missing, strict=True)]
        else:
            frame[name] = [None if m else v for v, m in zip(col, missing, strict=True)]
    return pd.DataFrame(frame, dtype=object)


def write_synthetic(df: pd.DataFrame, meta: dict[str, Any], path: Path, synth: str) -> None:
    """Missing values as empty strings (dpsynth reads them as missing); integers made whole.

    MST and AIM return bin midpoints: an integer column is floored (a one-integer bin
    [v, v+1) gives back v); the GANs return a continuous value, which is rounded.
    """
    out = {}
    for name, spec in _columns(meta):
        col = df[name]
        if _is_numeric(spec):
            vals = pd.to_numeric(col, errors="coerce")
            lo, hi = spec.get("lower"), spec.get("upper")
            if spec.get("integer"):
                vals = np.floor(vals) if synth in ("mst", "aim") else np.round(vals)
            if lo is not None:
                vals = vals.clip(lower=lo)
            if hi is not None:
                vals = vals.clip(upper=hi)
            if spec.get("integer"):
                out[name] = ["" if pd.isna(v) else str(int(v)) for v in vals]
            else:
                out[name] = ["" if pd.isna(v) else repr(float(v)) for v in vals]
        else:
            out[name] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in col]
    pd.DataFrame(out).to_csv(path, index=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synth", required=True, choices=PEERS)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--metadata", type=Path, required=True)
    ap.add_argument("--epsilon", type=float, required=True)
    ap.add_argument("--delta", type=float, required=True)
    ap.add_argument("--rows", type=int, required=True, help="synthetic rows to sample")
    ap.add_argument("--seed", type=int, default=0, help="seeds numpy/torch (smartnoise's noise comes from OpenDP, unseeded)")
    ap.add_argument("--epochs", type=int, default=None, help="GAN epochs (smartnoise default 300)")
    ap.add_argument("--preprocessor-share", type=float, default=0.05,
                    help="share of ε for smartnoise's DP bounds where the metadata has none")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--iid-out", type=Path, default=None,
                    help="MST/AIM: also write a sample of the same fitted model drawn with mbi's "
                    "method='sample' (i.i.d.) instead of its default 'round' (see module docstring)")
    ap.add_argument("--info", type=Path, required=True)
    args = ap.parse_args()

    info: dict[str, Any] = {"synth": args.synth, "epsilon": args.epsilon, "delta": args.delta, "notes": []}
    t0 = time.perf_counter()
    try:
        random.seed(args.seed)
        np.random.seed(args.seed)  # noqa: NPY002 (smartnoise draws from the legacy global state)
        import torch

        torch.manual_seed(args.seed)
        torch.set_num_threads(1)
        from importlib.metadata import version

        from snsynth import Synthesizer

        info["smartnoise_synth"] = version("smartnoise-synth")
        meta = json.loads(args.metadata.read_text())
        data = read_private(args.train, meta)
        transformer = build_transformer(meta, args.synth, info["notes"])
        kwargs: dict[str, Any] = {"delta": args.delta}
        if args.synth in ("dpctgan", "patectgan"):
            kwargs.update(cuda=False, verbose=False)
            if args.epochs is not None:
                kwargs["epochs"] = args.epochs
        model = Synthesizer.create(args.synth, epsilon=args.epsilon, **kwargs)
        pre_eps = args.preprocessor_share * args.epsilon if transformer.needs_epsilon else 0.0
        info["preprocessor_epsilon"] = pre_eps
        engines = _capture_privacy_engines() if args.synth == "dpctgan" else []
        model.fit(data, transformer=transformer, preprocessor_eps=pre_eps)
        info["fit_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        synthetic = model.sample(args.rows)
        info["sample_s"] = time.perf_counter() - t1
        # ε the peer's own accounting reports, where it exposes one. DP-CTGAN checks its
        # budget only at the start of each epoch, so ask its privacy engine after the last step.
        info["epsilon_spent_reported"] = args.epsilon
        if engines:
            spent, _ = engines[-1].get_privacy_spent(args.delta)
            info["epsilon_spent_reported"] = float(spent) + pre_eps
            info["dpctgan_epochs"] = len(getattr(model, "epsilon_list", []))
            if spent > args.epsilon - pre_eps + 1e-9:
                info["notes"].append(
                    f"DP-CTGAN trained past its budget: its own accountant reports ε = {spent:.3f} "
                    f"for training against a training budget of {args.epsilon - pre_eps:.3f}")
        write_synthetic(synthetic, meta, args.out, args.synth)
        if args.iid_out is not None and args.synth in ("mst", "aim"):
            # Same fitted model, i.i.d. sampling (post-processing: no budget).
            model.synthesizer = _IIDSampling(model.synthesizer)
            t2 = time.perf_counter()
            write_synthetic(model.sample(args.rows), meta, args.iid_out, args.synth)
            info["iid_sample_s"] = time.perf_counter() - t2
        info["rows"] = len(synthetic)
        info["status"] = "ok"
    except Exception as exc:  # report the exact error line to the harness
        info["status"] = "error"
        info["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        info["traceback"] = traceback.format_exc()[-4000:]
    info["wall_s"] = time.perf_counter() - t0
    info["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.info.write_text(json.dumps(info, indent=1, default=str))
    return 0 if info["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
