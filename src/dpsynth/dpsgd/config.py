"""Hyper-parameters of one DP-SGD run (one training stage)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dpsynth.errors import InvalidParameterError

Clipping = Literal["per_sample", "batch", "error_feedback"]
GradSampleMode = Literal["ghost", "hooks", "functorch"]

CLIPPING_MODES: tuple[str, ...] = ("per_sample", "batch", "error_feedback")
GRAD_SAMPLE_MODES: tuple[str, ...] = ("ghost", "hooks", "functorch")


@dataclass(frozen=True)
class DPSGDConfig:
    """How one model is trained with DP-SGD.

    Args:
        steps: Number of optimizer steps T (each on a fresh Poisson sample).
        batch_size: Expected batch size; the sample rate is ``batch_size / n̂`` with n̂ a DP
            (or public) row count, and gradient sums are divided by this expected size.
        max_grad_norm: Clipping norm C.
        clipping: ``"per_sample"`` (DP-SGD, Abadi et al. 2016: each row's gradient clipped
            to C, sensitivity C); ``"batch"`` (DP-TLDM's batch clipping: the batch-mean
            gradient clipped to C, sensitivity 2C, so far more noise at equal ε);
            ``"error_feedback"`` (DiceSGD, Zhang et al. 2024; experimental, accounted
            conservatively, see :mod:`dpsynth.dpsgd.plan`).
        noise_multiplier: σ (noise std over sensitivity). None: calibrated so that the fit
            meets its budget.
        max_noise_multiplier: A calibrated σ above this means the budget cannot train the
            model usefully: the fit is refused before anything is released.
        lr: Learning rate.
        optimizer: ``"adam"`` or ``"sgd"``.
        betas: Adam's (β₁, β₂); GAN critics usually want a small β₁, e.g. (0.5, 0.9).
        weight_decay: L2 penalty of the optimizer.
        grad_sample_mode: How per-sample gradients (or their norms) are computed:
            ``"ghost"`` (ghost clipping: norms without materialising per-sample
            gradients; for models whose trainable layers are all ``nn.Linear`` in one
            backward pass from recorded activations, otherwise Opacus's two-pass
            version), ``"hooks"`` (Opacus per-sample
            gradients) or ``"functorch"`` (``torch.func`` vmap of grad; the test oracle).
        error_max_norm: C₂, the clipping norm of the error-feedback term (default C).
        secure_noise: True (the default, and the only setting whose output may be
            released): gradient noise is the exact discrete Gaussian on a fine lattice,
            drawn from the fit's NoiseSource (``os.urandom`` in production), immune to
            floating-point attacks. False is a research switch: a fast float Gaussian from
            torch's Mersenne Twister seeded from the NoiseSource; the privacy report then
            says NOT FOR RELEASE, as for a seeded fit.
    """

    steps: int = 1000
    batch_size: int = 256
    max_grad_norm: float = 1.0
    clipping: Clipping = "per_sample"
    noise_multiplier: float | None = None
    max_noise_multiplier: float = 100.0
    lr: float = 1e-3
    optimizer: Literal["adam", "sgd"] = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_sample_mode: GradSampleMode = "ghost"
    error_max_norm: float | None = None
    secure_noise: bool = True

    def validate(self, owner: str = "DPSGDConfig") -> None:
        """Check every field; raise one InvalidParameterError naming the first bad one."""
        for name in ("steps", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be an integer >= 1. Got {v!r} instead."
                )
        for name in ("max_grad_norm", "lr", "max_noise_multiplier"):
            _positive(getattr(self, name), name, owner)
        if self.noise_multiplier is not None:
            _positive(self.noise_multiplier, "noise_multiplier", owner)
        if self.error_max_norm is not None:
            _positive(self.error_max_norm, "error_max_norm", owner)
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, int | float) or not (
            math.isfinite(self.weight_decay) and self.weight_decay >= 0
        ):
            raise InvalidParameterError(
                f"The 'weight_decay' parameter of {owner} must be a number >= 0. Got {self.weight_decay!r} instead."
            )
        for name, allowed in (
            ("clipping", CLIPPING_MODES),
            ("grad_sample_mode", GRAD_SAMPLE_MODES),
            ("optimizer", ("adam", "sgd")),
        ):
            if getattr(self, name) not in allowed:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be one of {', '.join(allowed)}. "
                    f"Got {getattr(self, name)!r} instead."
                )
        b = self.betas
        if not (isinstance(b, tuple | list) and len(b) == 2 and all(
            isinstance(x, int | float) and not isinstance(x, bool) and 0.0 <= x < 1.0 for x in b
        )):
            raise InvalidParameterError(
                f"The 'betas' parameter of {owner} must be two numbers in [0, 1). Got {b!r} instead."
            )
        if not isinstance(self.secure_noise, bool):
            raise InvalidParameterError(f"The 'secure_noise' parameter of {owner} must be True or False.")


def _positive(value: object, name: str, owner: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a finite number > 0. Got {value!r} instead."
        )
