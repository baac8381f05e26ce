"""DP-TLDM: a differentially private tabular latent diffusion model.

After "Differentially Private Tabular Latent Diffusion Model" (DP-TLDM, 2024), which
follows TabSyn (Zhang et al. 2024; amazon-science/tabsyn): rows are mapped to a
continuous latent space by an autoencoder, and a diffusion model learns the distribution
of the latents. Both networks see private rows, so both are trained with DP-SGD
(:mod:`dpsynth.dpsgd`), each with its declared share of the budget:

1. ``marginal_share`` of the zCDP budget ρ left after domain inference buys noisy one-way
   marginals of every column (discrete Gaussian; numbers over their DP-quantile bins): their
   totals give the DP row count n̂ (the Poisson sample rate q = batch_size / n̂ and the
   δ ≥ 1/n warning), and sampling reweights the generator's rows towards them
   (``calibrate``, :mod:`dpsynth.synth._calibrate`, post-processing);
2. domain inference, when the metadata leaves bounds or bin edges unknown, is charged by
   ``PrivateData`` (its ``inference_share``); the DP quantile edges it returns drive the
   numeric transform (see :mod:`dpsynth.synth._neural`);
3. the rest is spent by two DP-SGD runs, calibrated together with privacy-loss
   distributions so that the fit meets (ε, δ) exactly: the autoencoder gets ``ae_share``
   of the Gaussian-DP μ² and the diffusion model the remainder (see
   :func:`dpsynth.dpsgd.calibrate`).

Design choices for CPU speed and for privacy: an MLP autoencoder (the issue's CPU option,
instead of TabSyn's column-tokenizer transformer VAE) with tanh-bounded latents, whose
fixed scale (σ_data = 0.5) stands in for the latent standardisation TabSyn computes from
the data — no private statistic is needed; an EDM denoiser MLP (Karras et al. 2022) with
its preconditioning and log-normal noise levels; a deterministic Heun sampler with
``sample_steps`` steps; decoding by argmax for categories and the inverse quantile
transform for numbers, clipped to the public bounds.

DP-TLDM itself clips the batch-mean gradient (``clipping="batch"``); dpsynth defaults to
per-sample clipping, which needs far less noise at the same ε (see
:mod:`dpsynth.dpsgd.plan`); the paper's mode is available.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy.random import RandomState
from dpsynth.synth._calibrate import measure_one_way
from dpsynth.synth.base import Synthesizer
from dpsynth.synth.marginal import check_int
from dpsynth.synth.registry import register


def _check_share(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0.0 < float(value) < 1.0):
        raise InvalidParameterError(f"The {name!r} parameter of TLDM must be in (0, 1). Got {value!r} instead.")
    return float(value)


def _check_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
        raise InvalidParameterError(f"The {name!r} parameter of TLDM must be a finite number > 0. Got {value!r} instead.")
    return float(value)


class _SampledMarginals:
    """The fitted model's one-way marginals, estimated from a fixed-seed sample (post-processing)."""

    def __init__(self, model: TLDM, rows: int = 2000) -> None:
        self._model = model
        self._rows = rows
        self._sample: pd.DataFrame | None = None

    def project(self, columns: tuple[str, ...] | list[str]) -> np.ndarray:
        """Frequencies of one column's categories (or of 16 equal bins over its public bounds)."""
        if len(columns) != 1:
            raise InvalidParameterError("TLDM's model_ projects on one column at a time.")
        if self._sample is None:
            self._sample = self._model.sample(self._rows, random_state=0)
        col = self._model.domain_[columns[0]]
        values = self._sample[col.name]
        if col.is_numeric:
            x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
            lo = col.lower if col.lower is not None else float(x.min(initial=0.0))
            hi = col.upper if col.upper is not None else float(x.max(initial=1.0))
            counts = np.histogram(x, bins=16, range=(lo, max(hi, lo + 1e-9)))[0].astype(np.float64)
        else:
            cats = list(col.categories or ())
            counts = np.array([(values == c).sum() for c in cats], dtype=np.float64)
        return counts / max(counts.sum(), 1.0)


@register("tldm")
class TLDM(Synthesizer):
    """DP-TLDM: DP-SGD-trained autoencoder + latent EDM diffusion.

    Args:
        latent_dim: Width of the latent space (default: 4 per column, at most 64).
        hidden: Width of the hidden layers of both networks.
        ae_steps: DP-SGD steps of the autoencoder.
        diffusion_steps: DP-SGD steps of the denoiser.
        batch_size: Expected (Poisson) batch size of both runs.
        max_grad_norm: Clipping norm C of both runs.
        lr: Adam learning rate of both runs.
        ae_share: The autoencoder's share of the DP-SGD budget (μ² share); the diffusion
            model gets ``1 − ae_share``.
        marginal_share: Share of the zCDP budget spent on the noisy one-way marginals
            (row count and calibration targets).
        calibrate: Reweight samples towards the DP one-way marginals (free: post-processing).
            False samples the diffusion model as it is.
        pool_factor: Rows drawn from the model per row returned when calibrating.
        latent_noise: Std of the Gaussian noise added to latents while training the
            decoder (a denoising autoencoder; makes decoding robust to sampler error).
        sample_steps: Heun steps of the sampler.
        clipping: ``"per_sample"`` (default) or ``"batch"`` (as the DP-TLDM paper).
        grad_sample_mode: ``"ghost"`` (Opacus ghost clipping), ``"hooks"`` or ``"functorch"``.
        secure_noise: Gradient noise from the lattice Gaussian on ``os.urandom`` bits (the
            default). False is a faster research switch (torch's Mersenne Twister); the
            privacy report then says NOT FOR RELEASE.
        num_threads: Torch CPU threads for fit and sample (default: ``DPSYNTH_TORCH_THREADS``
            or 2); restored afterwards.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(
        self,
        *,
        latent_dim: int | None = None,
        hidden: int = 256,
        ae_steps: int = 1500,
        diffusion_steps: int = 3000,
        batch_size: int = 1024,
        max_grad_norm: float = 1.0,
        lr: float = 2e-3,
        ae_share: float = 0.5,
        marginal_share: float = 0.1,
        calibrate: bool = True,
        pool_factor: float = 4.0,
        latent_noise: float = 0.1,
        sample_steps: int = 40,
        clipping: str = "per_sample",
        grad_sample_mode: str = "ghost",
        secure_noise: bool = True,
        num_threads: int | None = None,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.ae_steps = ae_steps
        self.diffusion_steps = diffusion_steps
        self.batch_size = batch_size
        self.max_grad_norm = max_grad_norm
        self.lr = lr
        self.ae_share = ae_share
        self.marginal_share = marginal_share
        self.calibrate = calibrate
        self.pool_factor = pool_factor
        self.latent_noise = latent_noise
        self.sample_steps = sample_steps
        self.clipping = clipping
        self.grad_sample_mode = grad_sample_mode
        self.secure_noise = secure_noise
        self.num_threads = num_threads

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.latent_dim is not None:
            check_int(self.latent_dim, "latent_dim", "TLDM")
        if self.num_threads is not None:
            check_int(self.num_threads, "num_threads", "TLDM")
        for name in ("hidden", "ae_steps", "diffusion_steps", "batch_size", "sample_steps"):
            check_int(getattr(self, name), name, "TLDM")
        _check_float(self.max_grad_norm, "max_grad_norm")
        _check_float(self.lr, "lr")
        _check_float(self.latent_noise, "latent_noise")
        _check_share(self.ae_share, "ae_share")
        _check_share(self.marginal_share, "marginal_share")
        if not isinstance(self.calibrate, bool):
            raise InvalidParameterError(f"The 'calibrate' parameter of TLDM must be True or False. Got {self.calibrate!r}.")
        if isinstance(self.pool_factor, bool) or not isinstance(self.pool_factor, int | float) or not (
            math.isfinite(self.pool_factor) and self.pool_factor >= 1
        ):
            raise InvalidParameterError(f"The 'pool_factor' parameter of TLDM must be a number >= 1. Got {self.pool_factor!r}.")
        if self.clipping not in ("per_sample", "batch"):
            raise InvalidParameterError(
                f"The 'clipping' parameter of TLDM must be 'per_sample' or 'batch'. Got {self.clipping!r} instead."
            )
        self._config("ae").validate("TLDM")

    def _config(self, stage: str) -> Any:
        from dpsynth.dpsgd import DPSGDConfig

        return DPSGDConfig(
            steps=self.ae_steps if stage == "ae" else self.diffusion_steps,
            batch_size=self.batch_size,
            max_grad_norm=self.max_grad_norm,
            clipping=self.clipping,  # type: ignore[arg-type]
            lr=self.lr,
            grad_sample_mode=self.grad_sample_mode,  # type: ignore[arg-type]
            secure_noise=self.secure_noise,
        )

    def _latent_width(self, n_columns: int) -> int:
        return int(self.latent_dim) if self.latent_dim is not None else int(min(64, max(8, 4 * n_columns)))

    # -- fit ----------------------------------------------------------------------------------
    def _fit(self, data: PrivateData) -> None:
        from dpsynth import dpsgd

        with dpsgd.torch_threads(self.num_threads):
            self._fit_torch(data)

    def _fit_torch(self, data: PrivateData) -> None:
        import torch

        from dpsynth import dpsgd
        from dpsynth.synth import _neural

        codec = _neural.TableCodec(data.domain)
        rows = data.encoded_rows(codec.encode)
        acc = data.accountant
        # (1) Noisy one-way marginals: calibration targets, and (their totals) the DP row count
        # for the sample rate and the δ ≥ 1/n warning.
        counts, n_hat = measure_one_way(data, float(self.marginal_share), "tldm.marginals")
        q = dpsgd.sample_rate_for(self.batch_size, n_hat)
        expected = min(float(self.batch_size), n_hat)  # q·n̂: what gradient sums are divided by
        # (3) σ for both DP-SGD stages, calibrated together on what is left.
        ae_cfg, diff_cfg = self._config("ae"), self._config("diffusion")
        sigma_ae, sigma_diff = dpsgd.calibrate(acc, [
            dpsgd.Stage("tldm.autoencoder", ae_cfg, q, share=self.ae_share),
            dpsgd.Stage("tldm.diffusion", diff_cfg, q, share=1.0 - self.ae_share),
        ])
        d_lat = self._latent_width(len(data.domain))
        init_seed = dpsgd.torch_generator(data.noise).initial_seed()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            ae = _neural.Autoencoder(codec.width, d_lat, self.hidden)
            den = _neural.Denoiser(d_lat, self.hidden)
        width, noise_std = codec.width, float(self.latent_noise)

        def ae_augment(batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            return torch.cat([batch, torch.randn(batch.shape[0], d_lat, generator=gen)], dim=1)

        def ae_loss(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
            x, eps = batch[:, :width], batch[:, width:]
            z = model.encode(x) + noise_std * eps  # type: ignore[operator]
            return _neural.reconstruction_loss(model.decode(z), x, codec)  # type: ignore[operator]

        dpsgd.PrivateTrainer(rows, ae_cfg, noise_multiplier=sigma_ae, sample_rate=q, step="tldm.autoencoder",
                             description="autoencoder on encoded rows", expected_batch_size=expected).train(
            ae, ae_loss, augment=ae_augment, progress="TLDM autoencoder (DP-SGD)")

        # (4) Latents of the private rows (a row-wise map by the DP-trained encoder).
        def encode(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return ae.encode(torch.from_numpy(x)).numpy()

        latents = rows.map(encode)

        def diff_augment(batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            b = batch.shape[0]
            return torch.cat([batch, torch.randn(b, 1, generator=gen), torch.randn(b, d_lat, generator=gen)], dim=1)

        def diff_loss(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
            return _neural.edm_loss(model, batch, d_lat)

        dpsgd.PrivateTrainer(latents, diff_cfg, noise_multiplier=sigma_diff, sample_rate=q, step="tldm.diffusion",
                             description="latent EDM denoiser", expected_batch_size=expected).train(
            den, diff_loss, augment=diff_augment, progress="TLDM latent diffusion (DP-SGD)")
        self.n_hat_ = float(n_hat)
        self.noisy_counts_ = counts
        self.latent_width_ = d_lat
        self.noise_multipliers_ = (float(sigma_ae), float(sigma_diff))
        self.sample_rate_ = float(q)
        self._ae, self._den, self._codec = ae, den, codec
        self.model_ = _SampledMarginals(self)

    def _row_estimate(self) -> int | None:
        return max(1, round(self.n_hat_))

    # -- sample -------------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        from dpsynth import dpsgd

        with dpsgd.torch_threads(self.num_threads):
            return self._sample_torch(n, rng)

    def _sample_torch(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        import torch

        from dpsynth.data.discretize import Discretizer
        from dpsynth.data.numeric import round_frame
        from dpsynth.synth._calibrate import calibrated_sample

        self._ensure_models()
        gen = torch.Generator().manual_seed(int(rng.integers(2**63)))

        def draw(m: int) -> pd.DataFrame:
            return round_frame(self._draw(m, gen), self.domain_, rng)  # amounts as round as the real ones

        if not self.calibrate:
            return draw(n)
        return calibrated_sample(draw, n, Discretizer(self.domain_), self.noisy_counts_, rng,
                                 pool_factor=float(self.pool_factor))

    def _draw(self, n: int, gen: Any) -> pd.DataFrame:
        import torch

        from dpsynth.synth import _neural

        parts = []
        for start in range(0, n, 20_000):
            m = min(20_000, n - start)
            z = _neural.edm_sample(self._den, m, self.latent_width_, steps=self.sample_steps, generator=gen)
            with torch.no_grad():
                parts.append(self._ae.decode(z.clamp(-1.0, 1.0)).numpy())
        return self._codec.decode(np.concatenate(parts))

    # -- persistence ------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {f"ae.{k}": v.detach().numpy().copy() for k, v in self._ae.state_dict().items()}
        arrays.update({f"den.{k}": v.detach().numpy().copy() for k, v in self._den.state_dict().items()})
        arrays.update({f"counts.{i}": np.asarray(c) for i, c in enumerate(self.noisy_counts_)})
        state = {
            "n_hat": self.n_hat_,
            "n_counts": len(self.noisy_counts_),
            "latent_width": self.latent_width_,
            "noise_multipliers": list(self.noise_multipliers_),
            "sample_rate": self.sample_rate_,
        }
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.n_hat_ = float(state["n_hat"])
        self.noisy_counts_ = [np.asarray(arrays[f"counts.{i}"]) for i in range(int(state["n_counts"]))]
        self.latent_width_ = int(state["latent_width"])
        self.noise_multipliers_ = tuple(float(s) for s in state["noise_multipliers"])  # type: ignore[assignment]
        self.sample_rate_ = float(state["sample_rate"])
        self._arrays = arrays
        self.model_ = _SampledMarginals(self)

    def _ensure_models(self) -> None:
        if hasattr(self, "_ae"):
            return
        import torch

        from dpsynth.synth import _neural

        codec = _neural.TableCodec(self.domain_)
        ae = _neural.Autoencoder(codec.width, self.latent_width_, self.hidden)
        den = _neural.Denoiser(self.latent_width_, self.hidden)
        for prefix, model in (("ae.", ae), ("den.", den)):
            sd = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in self._arrays.items() if k.startswith(prefix)}
            model.load_state_dict(sd)
            model.eval()
        self._ae, self._den, self._codec = ae, den, codec
