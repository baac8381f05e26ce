"""The private trainer: DP-SGD on Opacus, charged to the fit's accountant.

Each step (Abadi et al. 2016, Alg. 1, with Poisson sampling as analysed by Mironov, Talwar
and Zhang 2019):

1. every private row joins the batch independently with probability q, decided by
   uniform bits from the fit's :class:`~dpsynth.privacy.NoiseSource` (``os.urandom`` in
   production);
2. per-row losses are computed (rows must not interact: no batch norm), and the clipped
   aggregate (see :mod:`dpsynth.dpsgd.plan`) is formed by ghost clipping (Li et al. 2022;
   Bu et al. 2023) by default — in one backward pass when every trainable layer is an
   ``nn.Linear`` (book-keeping, :class:`_BookKeeping`), else with Opacus's two passes —
   or with Opacus per-sample gradient hooks, or ``torch.func`` (the oracle the tests
   compare against);
3. Gaussian noise of standard deviation σ × sensitivity is added — also when the batch
   is empty, so an empty batch looks like any other — and the result is divided by the
   expected batch size;
4. the optimizer steps.

The whole run (T steps) is charged to the accountant before step 1, and the run refuses
to take more steps than it was charged for.

Randomness. Gradient noise is privacy noise, so in production it comes from the fit's
:class:`~dpsynth.privacy.NoiseSource` (``os.urandom``, the operating system's
cryptographically strong generator), through the same exact discrete-Gaussian sampler as
dpsynth's other mechanisms (Canonne, Kamath, Steinke 2020), on a power-of-two lattice
γ = 2^(⌊log₂ s⌋ − 32) for noise std s. Floating-point attacks (Mironov 2012) read the low
bits of "value + float noise"; here the aggregate is first snapped to the same lattice, so
the noisy gradient is an exact lattice point whatever the private value was. Snapping can
move a coordinate by γ/2, so the aggregate is shrunk by (1 − √d·γ/Δ) before snapping (Δ the
sensitivity, d the number of coordinates): the snapped aggregates of neighbouring batches
then still differ by at most Δ in L2, the sensitivity the accountant was charged for. The
change is below 10⁻⁶ of the gradient. The noise of step t + 1 is drawn in a background
thread while step t computes gradients (it does not depend on the data), which hides most
of its cost where a core is free.

``DPSGDConfig(secure_noise=False)`` is a research switch: noise then comes from a torch
generator (a Mersenne Twister, not a CSPRNG, with float Gaussians open to floating-point
attacks) seeded with 63 bits from the NoiseSource. It is several times faster per step;
the fit's privacy report then says NOT FOR RELEASE, as for a seeded fit. Poisson sampling
always uses NoiseSource bits. Training randomness that is not privacy noise (e.g.
diffusion noise levels, drawn by an ``augment`` function) uses a torch generator seeded
from the NoiseSource.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dpsynth.dpsgd.config import DPSGDConfig
from dpsynth.dpsgd.oracle import per_sample_gradients
from dpsynth.dpsgd.plan import mechanism, sensitivity, warn_about
from dpsynth.dpsgd.rows import EncodedRows
from dpsynth.errors import BudgetExceededError, InvalidParameterError
from dpsynth.privacy import NoiseSource

#: loss_fn(model, batch) -> one loss per row, shape (B,); row i's loss may depend on row i only.
LossFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]
#: augment(batch, generator) -> batch with per-row training randomness appended (not privacy noise).
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
#: public_loss(model) -> a scalar loss that reads no private row (e.g. a GAN's fake-sample term).
PublicLoss = Callable[[nn.Module], torch.Tensor]


def default_threads() -> int:
    """Torch CPU threads to use: ``DPSYNTH_TORCH_THREADS`` if set, else 2 (the machine's cores)."""
    raw = os.environ.get("DPSYNTH_TORCH_THREADS", "2")
    try:
        return max(1, int(raw))
    except ValueError:
        raise InvalidParameterError(f"DPSYNTH_TORCH_THREADS must be an integer >= 1. Got {raw!r}.") from None


@contextmanager
def torch_threads(n: int | None = None) -> Iterator[int]:
    """Run a block with ``n`` torch CPU threads (default :func:`default_threads`), then restore.

    On a shared 2-core machine under load, 1 thread can be several times faster than 2.
    """
    want = default_threads() if n is None else int(n)
    before = torch.get_num_threads()
    if want != before:
        torch.set_num_threads(want)
    try:
        yield want
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def torch_generator(noise: NoiseSource) -> torch.Generator:
    """A torch generator seeded with 64 bits from ``noise`` (``os.urandom`` unless seeded for tests)."""
    u = noise.uniform(2)
    seed = (int(u[0] * 2**53) << 11) ^ int(u[1] * 2**53)
    return torch.Generator().manual_seed(seed & (2**63 - 1))


@dataclass(frozen=True)
class TrainingLog:
    """What a run may report: only public quantities (no loss on private batches, no batch size).

    Attributes:
        step: The ledger step name.
        steps: Steps taken.
        noise_multiplier: σ.
        sample_rate: q.
        seconds: Wall time of the run.
    """

    step: str
    steps: int
    noise_multiplier: float
    sample_rate: float
    seconds: float


class PrivateTrainer:
    """Trains a torch model on :class:`EncodedRows` with DP-SGD.

    Args:
        rows: The private rows (from ``PrivateData.encoded_rows``).
        config: The run's hyper-parameters.
        noise_multiplier: σ (from :func:`dpsynth.dpsgd.plan.calibrate` or fixed).
        sample_rate: q, the Poisson sampling probability (set from a DP or public row count).
        step: Ledger step name, e.g. ``"tldm.autoencoder"``.
        description: Public description for the ledger.
        expected_batch_size: What noisy gradient sums are divided by: q·n̂ with n̂ a DP or
            public row count (default ``config.batch_size``; pass ``min(batch_size, n̂)`` when
            q was capped at 1).
    """

    def __init__(
        self,
        rows: EncodedRows,
        config: DPSGDConfig,
        *,
        noise_multiplier: float,
        sample_rate: float,
        step: str,
        description: str = "",
        expected_batch_size: float | None = None,
    ) -> None:
        if not isinstance(rows, EncodedRows):
            raise InvalidParameterError(
                f"PrivateTrainer needs EncodedRows (from PrivateData.encoded_rows). Got {type(rows).__name__}."
            )
        config.validate("PrivateTrainer")
        self.rows = rows
        self.config = config
        self.noise_multiplier = float(noise_multiplier)
        self.sample_rate = float(sample_rate)
        self.step_name = step
        self.description = description
        self.expected_batch_size = float(config.batch_size if expected_batch_size is None else expected_batch_size)
        if not (math.isfinite(self.expected_batch_size) and self.expected_batch_size > 0):
            raise InvalidParameterError(f"expected_batch_size must be > 0. Got {expected_batch_size!r}.")
        self.mechanism = mechanism(config, self.noise_multiplier, self.sample_rate)

    def start(self, model: nn.Module, loss_fn: LossFn, *, augment: Augment | None = None) -> TrainingRun:
        """Charge the whole run to the accountant, then return a run to step through.

        Privacy:
            Add/remove one row. Charges ``config.steps`` Poisson-subsampled Gaussian steps at
            σ = ``noise_multiplier`` and the clipping mode's sensitivity (one
            :class:`~dpsynth.privacy.SubsampledGaussianMechanism`) before any gradient is
            computed; raises BudgetExceededError (nothing computed) if it does not fit.
        """
        warn_about(self.config)
        accountant = self.rows.accountant
        if not self.config.secure_noise and not accountant.seeded:
            # The fast generator is a research switch: flag the fit like a seeded one.
            accountant.seeded = True
        if not self.config.secure_noise:
            note = (
                f"{self.step_name}: gradient noise came from torch's fast generator (a Mersenne Twister, "
                "secure_noise=False), not a cryptographically strong source: NOT FOR RELEASE"
            )
            if note not in accountant.notes:
                accountant.notes.append(note)
        accountant.charge(
            self.mechanism,
            step=self.step_name,
            description=self.description or f"DP-SGD, {self.config.clipping} clipping, C={self.config.max_grad_norm:g}",
        )
        return TrainingRun(self, model, loss_fn, augment)

    def train(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        *,
        augment: Augment | None = None,
        progress: str | None = None,
    ) -> TrainingLog:
        """Charge, then take every step; ``progress`` labels the progress bar (it shows steps only)."""
        from dpsynth.progress import track

        t0 = time.perf_counter()
        run = self.start(model, loss_fn, augment=augment)
        try:
            with track(progress or self.step_name, self.config.steps) as update:
                for i in range(self.config.steps):
                    run.step()
                    if i % 10 == 9:
                        update(i + 1)
        finally:
            run.finish()
        return TrainingLog(self.step_name, run.steps_taken, self.noise_multiplier, self.sample_rate,
                           time.perf_counter() - t0)


class TrainingRun:
    """A charged DP-SGD run, stepped one optimizer step at a time (see :meth:`PrivateTrainer.start`)."""

    def __init__(self, trainer: PrivateTrainer, model: nn.Module, loss_fn: LossFn, augment: Augment | None) -> None:
        cfg = trainer.config
        self.trainer = trainer
        self.config = cfg
        self.model = model
        self.loss_fn = loss_fn
        self.augment = augment
        self.steps_taken = 0
        self._x = torch.from_numpy(trainer.rows._values)  # the trainer is the rows' one consumer
        self._noise = trainer.rows.noise
        self._gen_noise = torch_generator(self._noise)
        self._gen_train = torch_generator(self._noise)
        self._sensitivity = sensitivity(cfg)
        self._std = trainer.noise_multiplier * self._sensitivity
        self._params = [p for p in model.parameters() if p.requires_grad]
        if not self._params:
            raise InvalidParameterError("The model has no trainable parameters.")
        self._secure: _SecureNoise | None = None
        if cfg.secure_noise and self._std > 0.0:
            self._secure = _SecureNoise(self._noise, self._std, self._sensitivity,
                                        sum(p.numel() for p in self._params), cfg.steps)
        self._gsm: Any = None
        self._bk: _BookKeeping | None = None
        if cfg.clipping != "batch" and cfg.grad_sample_mode == "ghost":
            self._bk = _BookKeeping.for_model(model, self._params)
        if cfg.clipping != "batch" and cfg.grad_sample_mode in ("ghost", "hooks") and self._bk is None:
            self._gsm = _wrap(model, cfg)
        model.train()
        if cfg.optimizer == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(
                self._params, lr=cfg.lr, betas=(float(cfg.betas[0]), float(cfg.betas[1])), weight_decay=cfg.weight_decay
            )
        else:
            self.optimizer = torch.optim.SGD(self._params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self._error = [torch.zeros_like(p) for p in self._params] if cfg.clipping == "error_feedback" else None

    # -- one step ----------------------------------------------------------------------
    def step(self, public_loss: PublicLoss | None = None) -> None:
        """One DP-SGD step; ``public_loss`` (reading no private row) adds its exact gradient."""
        if self.steps_taken >= self.config.steps:
            raise BudgetExceededError(
                f"This run was charged for {self.config.steps} steps and has taken them all; start a new run "
                "(it is charged again)."
            )
        cfg = self.config
        mask = self._noise.uniform(self._x.shape[0]) < self.trainer.sample_rate
        batch = self._x[torch.from_numpy(np.flatnonzero(mask))]
        if self.augment is not None:
            batch = self.augment(batch, self._gen_train)
        if cfg.clipping == "batch":
            aggregate = self._batch_clipped(batch)
        else:
            clipped, unclipped = self._clipped_sum(batch)
            aggregate = clipped
            if self._error is not None:
                aggregate = self._error_feedback(clipped, unclipped)
        scale = 1.0 if cfg.clipping == "batch" else 1.0 / self.trainer.expected_batch_size
        if self._secure is not None and self._std > 0.0:
            self._secure.begin_step()
            grads = [(self._secure.snap(a) + self._gaussian(a)) * scale for a in aggregate]
        else:
            grads = [(a + self._gaussian(a)) * scale for a in aggregate]
        if public_loss is not None:
            grads = [g + pg for g, pg in zip(grads, self._public_grads(public_loss), strict=True)]
        for p, g in zip(self._params, grads, strict=True):
            p.grad = g.view_as(p).to(p.dtype)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps_taken += 1

    def _gaussian(self, like: torch.Tensor) -> torch.Tensor:
        """This step's noise for one tensor: lattice noise (float64) when secure, else a fast float Gaussian."""
        if self._std == 0.0:
            return torch.zeros_like(like)
        if self._secure is not None:
            return self._secure.take(like)
        return torch.normal(0.0, self._std, size=like.shape, generator=self._gen_noise, dtype=like.dtype)

    def _losses(self, batch: torch.Tensor) -> torch.Tensor:
        losses = self.loss_fn(self.model, batch)
        if losses.ndim != 1 or losses.shape[0] != batch.shape[0]:
            raise InvalidParameterError(
                f"loss_fn must return one loss per row, shape ({batch.shape[0]},). Got {tuple(losses.shape)}."
            )
        return losses

    def _clipped_sum(self, batch: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """Σ clip(gᵢ, C) over the batch (and Σ gᵢ when error feedback needs it)."""
        c = float(self.config.max_grad_norm)
        zeros = [torch.zeros_like(p) for p in self._params]
        want_raw = self._error is not None
        if batch.shape[0] == 0:
            return zeros, (zeros if want_raw else None)
        mode = self.config.grad_sample_mode
        if mode == "functorch":
            per = per_sample_gradients(self.model, self.loss_fn, batch, self._params)
            return _clip_and_sum(per, c), ([g.sum(0) for g in per] if want_raw else None)
        if self._bk is not None:
            result = self._bk.clipped_sum(lambda: self._losses(batch), c, want_raw)
            if result is not None:
                return result
            # The model used a parameter outside a once-per-row linear layer: Opacus from now on.
            self._bk.remove()
            self._bk = None
            self._gsm = _wrap(self.model, self.config)
        for p in self._params:
            p.grad = None
        losses = self._losses(batch)
        if mode == "hooks":
            with _quiet_hooks():
                losses.sum().backward()
            per = [p.grad_sample for p in self._params]  # type: ignore[attr-defined]
            for p in self._params:
                p.grad_sample = None  # type: ignore[attr-defined]
                p.grad = None
            return _clip_and_sum(per, c), ([g.sum(0) for g in per] if want_raw else None)
        # Ghost clipping (Opacus): the first backward pass yields per-row gradient norms (and the
        # unclipped sum in .grad); the second, hooks off, back-propagates Σ coefᵢ·lossᵢ.
        with _quiet_hooks():
            losses.sum().backward(retain_graph=True)
        raw = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self._params]
        coef = self._gsm.get_clipping_coef().detach()
        for p in self._params:
            p.grad = None
        self._gsm.disable_hooks()
        try:
            with _quiet_hooks():
                (coef * losses).sum().backward()
        finally:
            self._gsm.enable_hooks()
        out = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self._params]
        for p in self._params:
            p.grad = None
        return out, (raw if want_raw else None)

    def _batch_clipped(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """clip(mean gradient of the batch, C); zero on an empty batch."""
        if batch.shape[0] == 0:
            return [torch.zeros_like(p) for p in self._params]
        grads = torch.autograd.grad(self._losses(batch).mean(), self._params, allow_unused=True)
        g = [torch.zeros_like(p) if x is None else x.detach() for p, x in zip(self._params, grads, strict=True)]
        norm = _norm(g)
        factor = min(1.0, float(self.config.max_grad_norm) / (float(norm) + 1e-12))
        return [x * factor for x in g]

    def _error_feedback(self, clipped: list[torch.Tensor], raw: list[torch.Tensor] | None) -> list[torch.Tensor]:
        """DiceSGD (Zhang et al. 2024, Alg. 1) in sum units: v = Σclip(gᵢ,C₁) + B·clip(e,C₂)."""
        assert self._error is not None and raw is not None
        b = self.trainer.expected_batch_size
        c2 = float(self.config.error_max_norm or self.config.max_grad_norm)
        e = self._error
        norm = float(_norm(e))
        fb = min(1.0, c2 / (norm + 1e-12))
        v = [cl + b * fb * x for cl, x in zip(clipped, e, strict=True)]
        # e_{t+1} = e_t + (Σ gᵢ − v_t)/B: the part of the gradient the update did not carry.
        self._error = [x + (r - vv) / b for x, r, vv in zip(e, raw, v, strict=True)]
        return v

    def _public_grads(self, public_loss: PublicLoss) -> list[torch.Tensor]:
        if self._gsm is not None:
            self._gsm.disable_hooks()
        try:
            loss = public_loss(self.model)
            grads = torch.autograd.grad(loss, self._params, allow_unused=True)
        finally:
            if self._gsm is not None:
                self._gsm.enable_hooks()
        return [torch.zeros_like(p) if g is None else g.detach() for p, g in zip(self._params, grads, strict=True)]

    def finish(self) -> nn.Module:
        """Remove Opacus hooks and put the model in eval mode; return it."""
        if self._gsm is not None:
            self._gsm.to_standard_module()
            self._gsm = None
        if self._bk is not None:
            self._bk.remove()
            self._bk = None
        if self._secure is not None:
            self._secure.close()
        self.model.eval()
        return self.model


class _SecureNoise:
    """Lattice discrete-Gaussian gradient noise on NoiseSource bits, drawn one step ahead.

    Args:
        noise: The fit's NoiseSource. In production the noise is drawn from a fresh
            ``os.urandom`` source; a seeded source hands a child seed to a NoiseSource of
            its own, so that the background thread never shares a generator.
        std: The noise standard deviation s = σ·Δ.
        sensitivity: Δ, the L2 sensitivity of the aggregate the accountant was charged for.
        size: Number of coordinates d (all trainable parameters).
        steps: Steps of the run (no noise is drawn beyond the last).
    """

    def __init__(self, noise: NoiseSource, std: float, sensitivity: float, size: int, steps: int) -> None:
        self.source = NoiseSource(None if noise.secure else int(noise.uniform(1)[0] * 2**53))
        #: The lattice step γ: a power of two, so γ·k is exact in float64 for |k| < 2^53.
        self.gamma = 2.0 ** (math.floor(math.log2(std)) - 32)
        self.sigma_units = std / self.gamma
        self.size = size
        # Shrink so that snapping (≤ γ/2 per coordinate) keeps the L2 sensitivity at Δ.
        self.shrink = 1.0 - math.sqrt(size) * self.gamma / sensitivity
        if not self.shrink > 0.0:  # pragma: no cover - needs ~2^60 coordinates
            raise InvalidParameterError("The model has too many coordinates for the noise lattice.")
        self._left = steps
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpsynth-noise")
        self._next: Future[np.ndarray] | None = None
        self._units = torch.zeros(0, dtype=torch.int64)
        self._offset = 0
        self._prefetch()

    def _draw(self) -> np.ndarray:
        return self.source.discrete_gaussian(self.sigma_units, self.size)

    def _prefetch(self) -> None:
        self._next = self._pool.submit(self._draw) if self._left > 0 else None

    def begin_step(self) -> None:
        """Take the noise drawn for this step (in the background) and start drawing the next."""
        if self._next is None:
            raise BudgetExceededError("No noise left for this run: it has taken every step it was charged for.")
        self._units = torch.from_numpy(self._next.result())
        self._offset = 0
        self._left -= 1
        self._prefetch()

    def snap(self, aggregate: torch.Tensor) -> torch.Tensor:
        """The aggregate, shrunk and rounded to the lattice (float64; exact lattice points)."""
        return torch.round(aggregate.detach().to(torch.float64) * (self.shrink / self.gamma)) * self.gamma

    def take(self, like: torch.Tensor) -> torch.Tensor:
        """The next ``like.numel()`` coordinates of this step's noise, shaped like ``like`` (float64)."""
        n = like.numel()
        if self._offset + n > self.size:
            raise InvalidParameterError("More noise coordinates asked for than the model has parameters.")
        units = self._units[self._offset : self._offset + n]
        self._offset += n
        return (units.to(torch.float64) * self.gamma).view(like.shape)

    def add(self, aggregate: list[torch.Tensor]) -> list[torch.Tensor]:
        """One step: snap each tensor of the aggregate and add its noise."""
        self.begin_step()
        return [self.snap(a) + self.take(a) for a in aggregate]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._next = None


class _BookKeeping:
    """Ghost clipping in one backward pass for models made of linear layers (Bu et al. 2023, "BK").

    For a linear layer y = W a + b applied once to each row (2-D input), row i's gradient is
    gᵢ aᵢᵀ (and gᵢ for b), with gᵢ = ∂lossᵢ/∂yᵢ; its squared norm is ‖aᵢ‖²‖gᵢ‖² (+ ‖gᵢ‖²).
    One backward pass to the layers' outputs gives every gᵢ; the per-row norms, the clipping
    factors and Σ factorᵢ gᵢ aᵢᵀ follow from the recorded aᵢ without the second backward pass
    Opacus's ghost clipping takes, and without the weight gradients of the first. The result
    is the same clipped sum (the tests compare it with ``torch.func`` per-sample gradients).

    Used only when every trainable parameter belongs to an ``nn.Linear``; the first step also
    checks that the unclipped sum equals autograd's gradient (a loss that reads a weight
    directly, or a layer called twice, fails the check) and otherwise hands over to Opacus.
    """

    def __init__(self, linears: list[nn.Linear], params: list[torch.nn.Parameter]) -> None:
        self.linears = linears
        self.params = params
        self.recording = False
        self.checked = False
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []
        self.owners: list[nn.Linear] = []
        self._handles = [m.register_forward_hook(self._hook) for m in linears]

    @classmethod
    def for_model(cls, model: nn.Module, params: list[torch.nn.Parameter]) -> _BookKeeping | None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        covered = [id(p) for m in linears for p in m.parameters(recurse=False) if p.requires_grad]
        if not linears or sorted(covered) != sorted(id(p) for p in params) or len(set(covered)) != len(covered):
            return None
        return cls(linears, params)

    def _hook(self, module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        if self.recording:
            self.inputs.append(inputs[0].detach())
            self.outputs.append(output)
            self.owners.append(module)  # type: ignore[arg-type]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def clipped_sum(
        self, losses_of: Callable[[], torch.Tensor], c: float, want_raw: bool
    ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None] | None:
        """(Σ clip(gᵢ, C), Σ gᵢ or None) in the order of ``params``; None if the model does not qualify."""
        self.inputs, self.outputs, self.owners = [], [], []
        self.recording = True
        try:
            losses = losses_of()
        finally:
            self.recording = False
        inputs, outputs, owners = self.inputs, self.outputs, self.owners
        self.inputs, self.outputs, self.owners = [], [], []
        if len(set(map(id, owners))) != len(owners) or any(a.ndim != 2 for a in inputs):
            return None
        with _quiet_hooks():
            if not self.checked:
                got = torch.autograd.grad(losses.sum(), [*outputs, *self.params], allow_unused=True)
                grads_out, grads_param = list(got[: len(outputs)]), list(got[len(outputs):])
            else:
                grads_out = list(torch.autograd.grad(losses.sum(), outputs, allow_unused=True))
        n = losses.shape[0]
        sq = torch.zeros(n, dtype=losses.dtype)
        by_param: dict[int, tuple[torch.Tensor, torch.Tensor, bool]] = {}
        for m, a, g_out in zip(owners, inputs, grads_out, strict=True):
            g = a.new_zeros(n, m.out_features) if g_out is None else g_out.detach()
            sq += a.pow(2).sum(1) * g.pow(2).sum(1)
            by_param[id(m.weight)] = (a, g, True)
            if m.bias is not None and m.bias.requires_grad:
                sq += g.pow(2).sum(1)
                by_param[id(m.bias)] = (a, g, False)
        factor = (c / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        clipped: list[torch.Tensor] = []
        raw: list[torch.Tensor] = []
        for p in self.params:
            entry = by_param.get(id(p))
            if entry is None:  # a layer this loss does not use: its gradient is zero for every row
                clipped.append(torch.zeros_like(p))
                raw.append(torch.zeros_like(p))
                continue
            a, g, is_weight = entry
            fg = g * factor[:, None]
            clipped.append(fg.t() @ a if is_weight else fg.sum(0))
            if want_raw or not self.checked:
                raw.append(g.t() @ a if is_weight else g.sum(0))
        if not self.checked:
            for r, q in zip(raw, grads_param, strict=True):
                expect = torch.zeros_like(r) if q is None else q
                if not torch.allclose(r, expect, rtol=1e-4, atol=1e-6 * (1.0 + float(expect.abs().max()))):
                    return None
            self.checked = True
        return clipped, (raw if want_raw else None)


def _wrap(model: nn.Module, cfg: DPSGDConfig) -> Any:
    from opacus.grad_sample import GradSampleModule
    from opacus.grad_sample.grad_sample_module_fast_gradient_clipping import (
        GradSampleModuleFastGradientClipping,
    )

    if cfg.grad_sample_mode == "ghost":
        return GradSampleModuleFastGradientClipping(
            model, batch_first=True, loss_reduction="sum", max_grad_norm=cfg.max_grad_norm, use_ghost_clipping=True
        )
    return GradSampleModule(model, batch_first=True, loss_reduction="sum")


@contextmanager
def _quiet_hooks() -> Iterator[None]:
    # torch warns that Opacus's full backward hooks fire on outputs when no input needs a
    # gradient: expected here (the inputs are data) and harmless.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        yield


def _norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.sqrt(torch.stack([(x**2).sum() for x in tensors]).sum())


def _clip_and_sum(per_sample: list[torch.Tensor], c: float) -> list[torch.Tensor]:
    norms = torch.sqrt(torch.stack([g.reshape(g.shape[0], -1).pow(2).sum(1) for g in per_sample]).sum(0))
    factor = (c / (norms + 1e-6)).clamp(max=1.0)
    return [torch.einsum("i,i...->...", factor, g) for g in per_sample]


def train(
    model: nn.Module,
    loss_fn: LossFn,
    rows: EncodedRows,
    config: DPSGDConfig,
    *,
    sample_rate: float,
    step: str,
    augment: Augment | None = None,
    progress: str | None = None,
) -> TrainingLog:
    """Train ``model`` with DP-SGD on ``rows``, spending what is left of the fit's budget.

    σ is ``config.noise_multiplier`` if set, else calibrated so that this run uses the rest
    of the budget (:func:`dpsynth.dpsgd.plan.calibrate`). For several stages, calibrate them
    together and use :class:`PrivateTrainer` for each.

    Privacy:
        As :meth:`PrivateTrainer.start`: the whole run is charged before its first step.
    """
    from dpsynth.dpsgd.plan import Stage, calibrate

    (sigma,) = calibrate(rows.accountant, [Stage(step, config, sample_rate)])
    if not math.isfinite(sigma):
        raise BudgetExceededError("No finite noise multiplier meets the budget.")
    trainer = PrivateTrainer(rows, config, noise_multiplier=sigma, sample_rate=sample_rate, step=step)
    with torch_threads():
        return trainer.train(model, loss_fn, augment=augment, progress=progress)
