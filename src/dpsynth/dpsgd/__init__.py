"""The private trainer: DP-SGD on Opacus, charged to the fit's one accountant.

Public API (small and stable; other neural generators build on it):

* :class:`DPSGDConfig` — hyper-parameters of one run (steps, batch size, clipping norm and
  mode, σ or None to calibrate, optimizer, per-sample-gradient engine).
* :meth:`dpsynth.data.private.PrivateData.encoded_rows` — the one way to get private rows
  into training, as opaque :class:`EncodedRows`; ``rows.noisy_count(sigma=..., step=...)``
  is a charged DP row count for setting the sample rate.
* :func:`sample_rate_for`, :class:`Stage`, :func:`calibrate` — q from a DP/public count,
  and noise multipliers for one or several stages sharing what is left of the budget.
* :class:`PrivateTrainer` — ``train(model, loss_fn, augment=...)`` or ``start(...)`` then
  ``run.step(public_loss=...)`` for custom loops (e.g. GAN discriminators); each run is
  charged in full before its first step.
* :func:`train` — calibrate one stage and train it.
* :func:`per_sample_gradients` — the ``torch.func`` oracle.

Importing this package imports torch.
"""

from dpsynth.dpsgd.config import DPSGDConfig
from dpsynth.dpsgd.oracle import per_sample_gradients
from dpsynth.dpsgd.plan import Stage, calibrate, mechanism, sample_rate_for, sensitivity
from dpsynth.dpsgd.rows import EncodedRows
from dpsynth.dpsgd.trainer import (
    PrivateTrainer,
    TrainingLog,
    TrainingRun,
    default_threads,
    torch_generator,
    torch_threads,
    train,
)

__all__ = [
    "DPSGDConfig",
    "EncodedRows",
    "PrivateTrainer",
    "Stage",
    "TrainingLog",
    "TrainingRun",
    "calibrate",
    "default_threads",
    "mechanism",
    "per_sample_gradients",
    "sample_rate_for",
    "sensitivity",
    "torch_generator",
    "torch_threads",
    "train",
]
