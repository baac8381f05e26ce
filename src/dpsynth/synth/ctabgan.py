"""DP-CTAB-GAN+: the conditional tabular GAN, private end to end.

CTAB-GAN+ (Zhao, Kunar, Birke, Van der Scheer, Chen, "CTAB-GAN+: enhancing tabular data
synthesis", Frontiers in Big Data 2023) is a conditional GAN for mixed-type tables:
mode-specific normalisation with special values, a general transform for long-tailed
columns, a conditional vector with training-by-sampling, a Wasserstein critic with
gradient penalty, an information loss and an auxiliary downstream classifier. Its
published DP variant noises only the critic's real-data gradient: the encoders, the
category frequencies, the gradient penalty, the information loss and the auxiliary
classifier read private rows without noise, and its batch-clipping sensitivity is
under-counted. Here every private touch is differentially private and charged to the
fit's one accountant:

==========================  ===============================================================
stage (ledger step)         how it reads private rows
==========================  ===============================================================
``ctabgan.infer_domain``    unknown categories/bounds and DP-quantile bin edges of numeric
                            columns (PrivateData.complete_domain; skipped if all public)
``ctabgan.marginals``       noisy one-way marginal of every column (discrete Gaussian,
                            ``marginal_share`` of the zCDP budget): category frequencies for
                            the conditional vector, mass per bin for the modes, and the DP
                            row count that sets the sample rate (a free by-product)
``ctabgan.auxiliary``       DP-SGD (per-sample clipping) of the auxiliary classifier of the
                            target, ``auxiliary_share`` of what is left
``ctabgan.discriminator``   DP-SGD of the critic (each row's real *and* fake term inside its
                            per-sample clipped, noised gradient); the rest of the budget.
                            Default: a spectrally constrained critic (no gradient penalty,
                            ghost clipping); ``lipschitz="gradient_penalty"`` keeps WGAN-GP
                            with the penalty inside the clipped gradient too
==========================  ===============================================================

The generator never reads a private row: its updates use only the noised critic, the
DP-trained classifier and public randomness (post-processing). The information loss is
dropped (it would need a second private release per generator step). The gradient
penalty is replaced by default with a projection of every critic layer onto spectral norm
≤ 1 after each step (post-processing of released weights): a per-row penalty needs double
back-propagation per row, ≈ 20× the cost of a ghost-clipped step on CPU, and at the step
counts that cost allowed the GAN did not learn the marginals. Details and the
equations are in :mod:`dpsynth.synth._ctabgan_encode` (encoding) and
:mod:`dpsynth.synth._ctabgan_train` (training). Networks are MLPs rather than the paper's
CNNs: cheaper under per-sample gradients, and the CNN is not what makes the method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import category_key
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy.random import RandomState, make_rng
from dpsynth.synth._calibrate import calibrated_sample, measure_one_way
from dpsynth.synth._ctabgan_encode import RowEncoder, column_code
from dpsynth.synth.base import Synthesizer
from dpsynth.synth.marginal import check_int
from dpsynth.synth.registry import register

#: Ways to keep the critic Lipschitz (see CTABGAN's ``lipschitz``).
_LIPSCHITZ = ("spectral", "gradient_penalty")

#: How many rounds of rejection sampling ``sample(conditions=...)`` tries before it sets the
#: conditioned columns directly on the rows still missing.
_CONDITION_ROUNDS = 20


class _Marginals:
    """The fit's DP one-way marginals (normalised), for inspection and tests."""

    def __init__(self, names: Sequence[str], values: Sequence[np.ndarray]) -> None:
        self._p = {}
        for n, v in zip(names, values, strict=True):
            c = np.clip(np.asarray(v, dtype=np.float64), 0.0, None)
            self._p[n] = c / c.sum() if c.sum() > 0 else np.full(c.size, 1.0 / max(c.size, 1))

    def project(self, clique: Sequence[str]) -> np.ndarray:
        """The noisy one-way marginal of a single column (as frequencies)."""
        if len(clique) != 1:
            raise InvalidParameterError("ctabgan keeps one-way marginals only.")
        return self._p[clique[0]]


def _check_float(value: object, name: str, *, low: float = 0.0, high: float = math.inf,
                 open_low: bool = True, open_high: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if open_low else v >= low) and (v < high if open_high else v <= high)
    if not ok:
        lo = "(" if open_low else "["
        hi = ")" if open_high else "]"
        raise InvalidParameterError(
            f"The {name!r} parameter of CTABGAN must be a number in {lo}{low:g}, {high:g}{hi}. Got {value!r} instead."
        )
    return float(value)  # type: ignore[arg-type]


def _check_dims(value: object, name: str) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1 for v in value
    ):
        raise InvalidParameterError(
            f"The {name!r} parameter of CTABGAN must be a non-empty list of layer widths >= 1. Got {value!r} instead."
        )
    return tuple(int(v) for v in value)


@register("ctabgan")
class CTABGAN(Synthesizer):
    """DP-CTAB-GAN+ (Zhao et al. 2023), with every private touch DP (see the module docstring).

    Args:
        steps: Critic DP-SGD steps (each on a fresh Poisson sample of the rows).
        batch_size: Expected real rows per critic step (and fake rows per step).
        generator_steps: Generator updates after each critic step (free: post-processing).
        max_grad_norm: Per-sample clipping norm C of the critic and the classifier.
        lr: Learning rate of the critic and the generator (Adam).
        lipschitz: How the Wasserstein critic is kept Lipschitz. ``"spectral"`` (default):
            after each DP-SGD step every critic layer is projected onto spectral norm ≤ 1
            (post-processing of the released weights), so no per-row penalty is needed and
            the step runs with Opacus ghost clipping (≈ 20× cheaper per step on CPU).
            ``"gradient_penalty"``: CTAB-GAN+'s WGAN-GP, the penalty inside each row's clipped
            gradient (``torch.func`` per-sample gradients with double back-propagation).
        gp_weight: λ of the gradient penalty (``lipschitz="gradient_penalty"`` only).
        gp_every: Add the gradient penalty on every k-th critic step only, with weight k·λ
            (lazy regularisation; its per-sample gradient is the costly part of a step).
        embedding_dim: Dimension of the generator's noise z.
        generator_dims: Hidden widths of the generator.
        discriminator_dims: Hidden widths of the critic.
        max_modes: Most interval modes of a continuous column (special values come on top).
        general_columns: Numeric columns encoded with CTAB-GAN+'s general transform (one mode
            over the public range), e.g. long-tailed ones.
        marginal_share: Share of the zCDP budget (after domain inference) spent on the
            one-way marginals (frequencies and modes).
        auxiliary: Train CTAB-GAN+'s auxiliary classifier of the target (needs a categorical
            target) with DP-SGD on its own budget share.
        auxiliary_share: Its share of the DP-SGD budget (the critic gets the rest).
        auxiliary_steps: DP-SGD steps of the classifier.
        auxiliary_weight: Weight of the auxiliary loss in the generator's loss.
        target: The target column; None uses the metadata's ``target``.
        calibrate: Reweight unconditional samples towards the DP one-way marginals already
            measured for the conditional vector (:mod:`dpsynth.synth._calibrate`; free:
            post-processing). False samples the generator as it is.
        pool_factor: Rows drawn from the generator per row returned when calibrating.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(
        self,
        *,
        steps: int = 1000,
        batch_size: int = 500,
        generator_steps: int = 1,
        max_grad_norm: float = 1.0,
        lr: float = 1e-3,
        lipschitz: str = "spectral",
        gp_weight: float = 10.0,
        gp_every: int = 4,
        embedding_dim: int = 64,
        generator_dims: Sequence[int] = (256, 256),
        discriminator_dims: Sequence[int] = (128, 128),
        max_modes: int = 10,
        general_columns: Sequence[str] = (),
        marginal_share: float = 0.1,
        auxiliary: bool = True,
        auxiliary_share: float = 0.1,
        auxiliary_steps: int = 200,
        auxiliary_weight: float = 1.0,
        target: str | None = None,
        calibrate: bool = True,
        pool_factor: float = 4.0,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.calibrate = calibrate
        self.pool_factor = pool_factor
        self.steps = steps
        self.batch_size = batch_size
        self.generator_steps = generator_steps
        self.max_grad_norm = max_grad_norm
        self.lr = lr
        self.lipschitz = lipschitz
        self.gp_weight = gp_weight
        self.gp_every = gp_every
        self.embedding_dim = embedding_dim
        self.generator_dims = generator_dims
        self.discriminator_dims = discriminator_dims
        self.max_modes = max_modes
        self.general_columns = general_columns
        self.marginal_share = marginal_share
        self.auxiliary = auxiliary
        self.auxiliary_share = auxiliary_share
        self.auxiliary_steps = auxiliary_steps
        self.auxiliary_weight = auxiliary_weight
        self.target = target

    # -- parameters ------------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        for name in ("steps", "batch_size", "gp_every", "embedding_dim", "max_modes", "auxiliary_steps"):
            check_int(getattr(self, name), name, "CTABGAN")
        check_int(self.generator_steps, "generator_steps", "CTABGAN", minimum=0)
        _check_float(self.max_grad_norm, "max_grad_norm")
        _check_float(self.lr, "lr")
        _check_float(self.gp_weight, "gp_weight", open_low=False)
        _check_float(self.auxiliary_weight, "auxiliary_weight", open_low=False)
        _check_float(self.marginal_share, "marginal_share", high=1.0, open_high=True)
        _check_float(self.auxiliary_share, "auxiliary_share", high=1.0, open_high=True)
        _check_dims(self.generator_dims, "generator_dims")
        _check_dims(self.discriminator_dims, "discriminator_dims")
        _check_float(self.pool_factor, "pool_factor", low=1.0, open_low=False)
        for flag in ("auxiliary", "calibrate"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidParameterError(
                    f"The {flag!r} parameter of CTABGAN must be True or False. Got {getattr(self, flag)!r}."
                )
        if self.lipschitz not in _LIPSCHITZ:
            raise InvalidParameterError(
                f"The 'lipschitz' parameter of CTABGAN must be one of {', '.join(_LIPSCHITZ)}. Got {self.lipschitz!r} instead."
            )
        gc = self.general_columns
        if isinstance(gc, str) or not isinstance(gc, Sequence) or not all(isinstance(c, str) for c in gc):
            raise InvalidParameterError(
                f"The 'general_columns' parameter of CTABGAN must be a list of column names. Got {gc!r} instead."
            )
        if self.target is not None and not isinstance(self.target, str):
            raise InvalidParameterError(f"The 'target' parameter of CTABGAN must be a column name or None. Got {self.target!r}.")

    def _check_domain(self, data: PrivateData) -> None:
        dom = data.domain
        problems = [f"general_columns: {c!r} is not a column" for c in self.general_columns if c not in dom]
        problems += [f"general_columns: {c!r} is not numeric" for c in self.general_columns
                     if c in dom and not dom[c].is_numeric]
        if self.target is not None and self.target not in dom:
            problems.append(f"target: {self.target!r} is not a column")
        if problems:
            raise InvalidParameterError(
                "CTABGAN cannot use these columns: " + "; ".join(problems) + f". Known columns: {list(dom.names)}."
            )
        data.discretizer  # noqa: B018 - columns with too many codes fail before any marginal is charged

    def _target_index(self, data: PrivateData) -> int | None:
        """The auxiliary classifier's target column, or None (with a note saying why)."""
        if not self.auxiliary:
            return None
        name = self.target if self.target is not None else data.domain.target
        if name is None or name not in data.domain:
            data.accountant.notes.append("ctabgan: no target column, so no auxiliary classifier was trained.")
            return None
        if data.domain[name].is_numeric:
            data.accountant.notes.append(
                f"ctabgan: the target {name!r} is numeric; the auxiliary model supports categorical targets only, "
                "so none was trained."
            )
            return None
        return list(data.domain.names).index(name)

    # -- fit -------------------------------------------------------------------------------
    def _one_way(self, data: PrivateData) -> tuple[list[np.ndarray], float]:
        """The charged noisy one-way marginals and the DP row count (stage 1)."""
        return measure_one_way(data, float(self.marginal_share), "ctabgan.marginals")

    def _noise_multipliers(self, data: PrivateData, stages: Sequence[Any]) -> list[float]:
        """σ of each DP-SGD stage, spending what is left of the budget (stage 2)."""
        from dpsynth import dpsgd

        return dpsgd.calibrate(data.accountant, stages)

    def _fit(self, data: PrivateData) -> None:
        from dpsynth import dpsgd
        from dpsynth.progress import track
        from dpsynth.synth import _ctabgan_train as tr

        domain = data.domain
        names = list(domain.names)
        disc = data.discretizer
        target = self._target_index(data)

        # (1) Noisy one-way marginals: category frequencies for training-by-sampling, mass per
        # DP-quantile bin for the modes, and a DP row count (their totals), all from one release.
        counts, n_hat = self._one_way(data)

        general = set(self.general_columns)
        codes = [column_code(domain, disc, n, c, max_modes=self.max_modes, general=n in general)
                 for n, c in zip(names, counts, strict=True)]
        encoder = RowEncoder(domain, codes)
        sampler = tr.CondSampler.from_counts(encoder, [counts[j] for j in encoder.cond_columns])

        # (2) DP-SGD stages share what is left, calibrated together (dpsynth.dpsgd.plan).
        rows = data.encoded_rows(encoder.encode)
        q = dpsgd.sample_rate_for(self.batch_size, n_hat)
        spectral = self.lipschitz == "spectral"
        cfg_d = dpsgd.DPSGDConfig(
            steps=self.steps, batch_size=self.batch_size, max_grad_norm=float(self.max_grad_norm),
            lr=float(self.lr), betas=(0.5, 0.9), grad_sample_mode="ghost" if spectral else "functorch",
        )
        stages = [dpsgd.Stage("ctabgan.discriminator", cfg_d, q, share=1.0 - (self.auxiliary_share if target is not None else 0.0))]
        if target is not None:
            cfg_a = dpsgd.DPSGDConfig(
                steps=self.auxiliary_steps, batch_size=self.batch_size, max_grad_norm=float(self.max_grad_norm),
                lr=float(self.lr), grad_sample_mode="ghost",
            )
            stages.append(dpsgd.Stage("ctabgan.auxiliary", cfg_a, q, share=float(self.auxiliary_share)))
        sigmas = self._noise_multipliers(data, stages)

        with dpsgd.torch_threads():
            gen = dpsgd.torch_generator(data.noise)
            cond_dim = encoder.cond_width
            generator = tr.Generator(self.embedding_dim + cond_dim, self.generator_dims, encoder.width)
            critic = tr.mlp(encoder.width + cond_dim, self.discriminator_dims, 1)
            tr.init_(generator, gen)
            tr.init_(critic, gen)

            aux = None
            if target is not None:
                aux = tr.make_auxiliary(encoder, target, self.discriminator_dims, gen)
                trainer = dpsgd.PrivateTrainer(
                    rows, stages[1].config, noise_multiplier=sigmas[1], sample_rate=q, step="ctabgan.auxiliary",
                    description=f"auxiliary classifier of {names[target]!r}, per-sample clipping, "
                    f"C={self.max_grad_norm:g}",
                )
                trainer.train(aux.model, aux.per_row_loss, progress="ctabgan: auxiliary classifier")
                for p in aux.model.parameters():
                    p.requires_grad_(False)

            loop = tr.GanLoop(
                encoder, sampler, generator, critic, aux, batch_size=self.batch_size,
                embedding_dim=self.embedding_dim, lr=float(self.lr), auxiliary_weight=float(self.auxiliary_weight),
                gen=gen,
            )
            what = ("spectrally normalised WGAN critic, per-sample clipped" if spectral else
                    "WGAN-GP critic, real term and gradient penalty per-sample clipped")
            trainer = dpsgd.PrivateTrainer(
                rows, cfg_d, noise_multiplier=sigmas[0], sample_rate=q, step="ctabgan.discriminator",
                description=f"{what}, C={self.max_grad_norm:g}",
            )
            critic_loss = tr.CriticLoss(encoder, 0.0 if spectral else float(self.gp_weight), int(self.gp_every))
            if spectral:
                tr.project_spectral_(critic)
            run = trainer.start(critic, critic_loss, augment=loop.augment)
            try:
                with track("ctabgan: GAN", self.steps) as update:
                    for t in range(self.steps):
                        critic_loss.step = t
                        run.step()
                        if spectral:
                            tr.project_spectral_(critic)
                        loop.sync()
                        for _ in range(self.generator_steps):
                            loop.generator_step()
                        if t % 10 == 9:
                            update(t + 1)
            finally:
                run.finish()

        generator.eval()
        self.encoder_ = encoder
        self.n_hat_ = n_hat
        self.noisy_counts_ = counts
        self.model_ = _Marginals(names, counts)
        self.generator_state_ = {k: v.detach().numpy().copy() for k, v in generator.state_dict().items()}
        self.noise_multipliers_ = [float(s) for s in sigmas]
        self._generator: Any = generator

    def _row_estimate(self) -> int | None:
        return max(1, round(self.n_hat_))

    # -- sampling --------------------------------------------------------------------------
    def sample(
        self,
        n: int,
        *,
        conditions: Mapping[str, object] | None = None,
        random_state: RandomState = None,
    ) -> pd.DataFrame:
        """Draw ``n`` synthetic rows, optionally all with given categorical values.

        Args:
            n: Number of rows (> 0).
            conditions: ``{column: value}`` for categorical/ordinal columns; every returned
                row has exactly these values. The generator is conditioned on them
                (CTGAN's conditional vector, one column per row, drawn among the conditions)
                and rows that disagree on the other conditions are rejected; after a few
                rounds, rows still missing get the conditioned values set directly.
            random_state: Seed for reproducible sampling; None draws fresh entropy.

        Returns:
            A DataFrame with the domain's columns, in its order; the domain's public
            constraints hold on every row (rows that break them are redrawn).
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
            raise InvalidParameterError(f"The number of rows to sample must be an integer > 0. Got {n!r}.")
        cond = self._check_conditions(conditions)
        rng = make_rng(random_state)
        if self.domain_.constraints:
            from dpsynth.synth._conditions import parse_conditions, sample_by_rejection

            conds = parse_conditions(self.domain_, conditions)
            return sample_by_rejection(lambda m: self._sample(m, rng, cond), conds, int(n), self.domain_)
        return self._sample(int(n), rng, cond)

    def _check_conditions(self, conditions: Mapping[str, object] | None) -> dict[int, int]:
        """Map {column: value} to {conditional column k: category code}; one error lists every problem."""
        if conditions is None:
            return {}
        if not isinstance(conditions, Mapping):
            raise InvalidParameterError(f"conditions must be a dict {{column: value}}. Got {type(conditions).__name__}.")
        enc = self.encoder_
        names = list(self.domain_.names)
        problems = []
        out: dict[int, int] = {}
        for col, value in conditions.items():
            if col not in self.domain_:
                problems.append(f"{col!r} is not a column (known: {names})")
                continue
            c = self.domain_[col]
            j = names.index(col)
            if c.is_numeric:
                problems.append(f"{col!r} is numeric; only categorical/ordinal columns can be conditioned on")
                continue
            keys = [category_key(v) for v in (c.categories or ())]
            key = category_key(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
            if key is None or key not in keys:
                problems.append(f"{value!r} is not a category of {col!r} (categories: {list(c.categories or ())})")
                continue
            if j not in enc.cond_columns:
                problems.append(f"{col!r} has a single category and cannot be conditioned on")
                continue
            out[enc.cond_columns.index(j)] = keys.index(key)
        if problems:
            raise InvalidParameterError("Bad sampling conditions: " + "; ".join(problems) + ".")
        return out

    def _torch_generator(self) -> Any:
        import torch

        from dpsynth.synth import _ctabgan_train as tr

        if getattr(self, "_generator", None) is None:
            g = tr.Generator(self.embedding_dim + self.encoder_.cond_width, _check_dims(self.generator_dims, "generator_dims"),
                             self.encoder_.width)
            g.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.generator_state_.items()})
            g.eval()
            self._generator = g
        return self._generator

    def _sample(self, n: int, rng: np.random.Generator, conditions: dict[int, int] | None = None) -> pd.DataFrame:
        import torch

        from dpsynth.data.numeric import round_frame
        from dpsynth.synth import _ctabgan_train as tr

        enc = self.encoder_
        gen = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        generator = self._torch_generator()
        cond_counts = [self.noisy_counts_[j] for j in enc.cond_columns]
        sampler = tr.CondSampler.from_counts(enc, cond_counts)
        if not conditions:
            # Unconditional: conditions from the DP frequencies (the data's own law), as CTGAN samples.
            def draw(m: int) -> pd.DataFrame:
                cond, _, _ = sampler.sample(m, gen, log=False)
                return round_frame(enc.decode(tr.generate(generator, enc, cond, self.embedding_dim, gen), rng),
                                   self.domain_, rng)

            if not self.calibrate:
                return draw(n)
            # Reweight a pool towards the DP one-way marginals measured at fit time (free).
            return calibrated_sample(draw, n, Discretizer(self.domain_), self.noisy_counts_, rng,
                                     pool_factor=float(self.pool_factor))
        keys = list(conditions)
        kept: list[np.ndarray] = []
        have = 0
        for _ in range(_CONDITION_ROUNDS):
            m = max(2 * (n - have), 16)
            cond = torch.zeros(m, enc.cond_width)
            pick = torch.randint(0, len(keys), (m,), generator=gen)
            for i, k in enumerate(keys):
                cond[pick == i, enc.cond_offsets[k] + conditions[k]] = 1.0
            rows = tr.generate(generator, enc, cond, self.embedding_dim, gen)
            ok = np.ones(m, dtype=bool)
            for k, code in conditions.items():
                ok &= enc.category_codes(rows, enc.cond_columns[k]) == code
            kept.append(rows[ok])
            have += int(ok.sum())
            if have >= n:
                break
        rows = np.concatenate(kept)[:n]
        if rows.shape[0] < n:
            extra = n - rows.shape[0]
            cond = torch.zeros(extra, enc.cond_width)
            k0 = keys[0]
            cond[:, enc.cond_offsets[k0] + conditions[k0]] = 1.0
            rows = np.concatenate([rows, tr.generate(generator, enc, cond, self.embedding_dim, gen)])
        # Set the conditioned one-hots exactly (a no-op on accepted rows).
        for k, code in conditions.items():
            span = enc.spans[enc.cond_columns[k]][0]
            rows[:, span.start:span.stop] = 0.0
            rows[:, span.start + code] = 1.0
        return round_frame(enc.decode(rows, rng), self.domain_, rng)

    # -- persistence -----------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "encoder": self.encoder_.to_dict(),
            "n_hat": self.n_hat_,
            "generator_keys": sorted(self.generator_state_),
            "noise_multipliers": self.noise_multipliers_,
            "n_counts": len(self.noisy_counts_),
        }
        arrays = {f"g{i}": np.asarray(self.generator_state_[k]) for i, k in enumerate(sorted(self.generator_state_))}
        arrays.update({f"c{i}": np.asarray(c) for i, c in enumerate(self.noisy_counts_)})
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.encoder_ = RowEncoder.from_dict(self.domain_, state["encoder"])
        self.n_hat_ = float(state["n_hat"])
        self.generator_state_ = {k: arrays[f"g{i}"] for i, k in enumerate(state["generator_keys"])}
        self.noise_multipliers_ = [float(s) for s in state["noise_multipliers"]]
        self.noisy_counts_ = [arrays[f"c{i}"] for i in range(int(state["n_counts"]))]
        self.model_ = _Marginals(list(self.domain_.names), self.noisy_counts_)
        self._generator = None
