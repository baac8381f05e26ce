"""DP-CTAB-GAN+'s networks and training loop (imports torch; loaded only inside fit/sample).

The loop follows CTAB-GAN+ (Zhao et al. 2023, Alg. 1) with a Wasserstein critic and
gradient penalty (Gulrajani et al. 2017, Eq. 3), changed where the original reads
private rows without noise:

* **Critic (discriminator) step = one DP-SGD step** of :class:`dpsynth.dpsgd.PrivateTrainer`
  (Poisson sampling, per-sample clipping to C, Gaussian noise σC). Row i's loss is
  ``D(fᵢ, cᵢ) − D(xᵢ, cᵢ)`` with fᵢ = G(zᵢ, cᵢ) a fake row of the same condition. The
  critic is kept Lipschitz either by projecting each layer onto spectral norm ≤ 1 after the
  step (default; post-processing, and the step runs with Opacus ghost clipping) or, as in
  CTAB-GAN+, by the gradient penalty ``λ·(‖∇ₓ̂ D(x̂ᵢ, cᵢ)‖ − 1)²`` with
  x̂ᵢ = uᵢxᵢ + (1 − uᵢ)fᵢ, added to row i's loss so that it (which reads xᵢ through the
  interpolate) is inside the per-sample clipped, noised gradient. The fake term is inside it too: it costs no privacy, and an unclipped fake
  term would swamp the clipped real one. The penalty's input gradient is taken with
  ``torch.func.grad`` so that the trainer's ``functorch`` per-sample engine differentiates
  through it exactly (Opacus's hooks do not support double back-propagation). Packing
  (PacGAN) is not used: a pack would mix several private rows in one loss term, breaking
  the per-row sensitivity.
* **Conditional vectors.** CTGAN's training-by-sampling picks a (column, category) and then
  a *real row with that category*: a data-dependent selection that Poisson sampling cannot
  provide. Here each Poisson-sampled real row is paired with a condition built from its own
  value in a uniformly chosen discrete column (extra randomness appended per row, not
  privacy noise), and its fake partner is generated under that same condition, so the
  critic compares real and fake rows of matching conditions. The generator step draws
  conditions by the *noisy* log-frequency, as CTGAN's training-by-sampling does; it is
  post-processing.
* **Fake partners read no other row.** G has batch normalisation (CTGAN's design; without
  it, or with layer normalisation, the GAN learned far less here). The critic's fake rows
  are generated with the statistics of a public reference batch, never of the batch of
  real rows' conditions, and G's running statistics are updated only by generator steps.
* **Generator step = post-processing.** Its loss reads only the noised critic, the
  DP-trained auxiliary classifier and public noise: ``−mean D(G(z,c),c)``, CTGAN's
  conditional cross-entropy, and CTAB-GAN+'s auxiliary (downstream) loss.
* **Information loss dropped.** CTAB-GAN+'s information loss matches the mean and standard
  deviation of critic features of a *real* batch and a fake batch at every generator step.
  Keeping it would need a second private release (noisy feature moments) per generator
  step, on top of the critic's; dpsynth drops it and spends that budget on the critic.
* **Auxiliary classifier** (CTAB-GAN+, Sec. 3.3): trained *before* the GAN, with DP-SGD on
  its own share of the budget (per-row cross-entropy of the target given the other
  columns), then frozen; the generator is penalised when its rows' target disagrees with
  what the classifier predicts from the rows' other columns.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dpsynth.synth._ctabgan_encode import RowEncoder


def init_(module: nn.Module, gen: torch.Generator) -> None:
    """Initialise every Linear layer from ``gen`` (never from torch's global generator)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)


class Generator(nn.Module):
    """G(z, c): an MLP with batch normalisation (CTGAN-style residual-free blocks)."""

    def __init__(self, in_dim: int, dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for h in dims:
            layers += [nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def mlp(in_dim: int, dims: Sequence[int], out_dim: int) -> nn.Sequential:
    """A LeakyReLU MLP without batch-level layers (rows must not interact under DP-SGD)."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in dims:
        layers += [nn.Linear(d, h), nn.LeakyReLU(0.2)]
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def activate(raw: torch.Tensor, encoder: RowEncoder, gen: torch.Generator | None, tau: float = 0.2) -> torch.Tensor:
    """Output activations: tanh for α, Gumbel-softmax (Jang et al. 2017) for one-hots.

    With ``gen`` None the one-hot groups get a plain softmax (no Gumbel noise).
    """
    parts = []
    for spans in encoder.spans:
        for s in spans:
            x = raw[:, s.start:s.stop]
            if s.kind == "tanh":
                parts.append(torch.tanh(x))
            else:
                if gen is not None:
                    u = torch.rand(x.shape, generator=gen).clamp(1e-10, 1 - 1e-10)
                    x = x - torch.log(-torch.log(u))
                parts.append(torch.softmax(x / tau if gen is not None else x, dim=1))
    return torch.cat(parts, dim=1)


@dataclass
class CondSampler:
    """Draws conditional vectors from DP category frequencies (post-processing).

    Attributes:
        encoder: The row encoder (which columns the vector covers).
        freq: Per conditional column, the noisy category frequencies (non-negative, sum 1).
        log_freq: Per conditional column, CTGAN's training-by-sampling law ∝ log(1 + count).
    """

    encoder: RowEncoder
    freq: list[np.ndarray]
    log_freq: list[np.ndarray]

    @classmethod
    def from_counts(cls, encoder: RowEncoder, counts: Sequence[np.ndarray]) -> CondSampler:
        """Build from the noisy one-way counts of the conditional columns."""
        freq, log_freq = [], []
        for c in counts:
            c = np.clip(np.asarray(c, dtype=np.float64), 0.0, None)
            f = c + 1e-6
            freq.append(f / f.sum())
            lf = np.log1p(c) + 1e-6
            log_freq.append(lf / lf.sum())
        return cls(encoder, freq, log_freq)

    @property
    def width(self) -> int:
        """Width of the conditional vector."""
        return self.encoder.cond_width

    def sample(self, n: int, gen: torch.Generator, *, log: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw ``n`` conditions: (one-hot vectors, chosen conditional column k, category)."""
        cond = torch.zeros(n, self.width)
        k_cols = len(self.encoder.cond_columns)
        if k_cols == 0:
            return cond, torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)
        which = torch.randint(0, k_cols, (n,), generator=gen)
        cats = torch.zeros(n, dtype=torch.long)
        laws = self.log_freq if log else self.freq
        for k in range(k_cols):
            idx = torch.nonzero(which == k).flatten()
            if idx.numel() == 0:
                continue
            p = torch.as_tensor(laws[k], dtype=torch.float64)
            cats[idx] = torch.multinomial(p, idx.numel(), replacement=True, generator=gen)
            cond[idx, self.encoder.cond_offsets[k] + cats[idx]] = 1.0
        return cond, which, cats

    def of_rows(self, rows: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Each row's condition: its own category in a uniformly chosen conditional column."""
        n = rows.shape[0]
        cond = torch.zeros(n, self.width, dtype=rows.dtype)
        k_cols = len(self.encoder.cond_columns)
        if k_cols == 0 or n == 0:
            return cond
        which = torch.randint(0, k_cols, (n,), generator=gen)
        for k, j in enumerate(self.encoder.cond_columns):
            idx = torch.nonzero(which == k).flatten()
            if idx.numel() == 0:
                continue
            span = self.encoder.spans[j][0]
            cats = rows[idx, span.start:span.stop].argmax(dim=1)
            cond[idx, self.encoder.cond_offsets[k] + cats] = 1.0
        return cond


def conditional_loss(raw: torch.Tensor, encoder: RowEncoder, which: torch.Tensor, cats: torch.Tensor) -> torch.Tensor:
    """CTGAN's generator cross-entropy: the conditioned column must take the conditioned value."""
    if not encoder.cond_columns:
        return raw.new_zeros(())
    losses = raw.new_zeros(raw.shape[0])
    for k, j in enumerate(encoder.cond_columns):
        idx = torch.nonzero(which == k).flatten()
        if idx.numel() == 0:
            continue
        span = encoder.spans[j][0]
        losses[idx] = nn.functional.cross_entropy(raw[idx, span.start:span.stop], cats[idx], reduction="none")
    return losses.mean()


@dataclass
class Auxiliary:
    """The auxiliary classifier and which part of an encoded row it reads and predicts."""

    model: nn.Module
    mask: torch.Tensor  # 1 on feature coordinates, 0 on the target's span
    start: int
    stop: int

    def features(self, rows: torch.Tensor) -> torch.Tensor:
        """The row with the target's coordinates zeroed."""
        return rows * self.mask

    def labels(self, rows: torch.Tensor) -> torch.Tensor:
        """The target's code (argmax of its one-hot)."""
        return rows[:, self.start:self.stop].argmax(dim=1)

    def per_row_loss(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        """Per-row cross-entropy (row i's loss depends on row i only)."""
        return nn.functional.cross_entropy(model(self.features(batch)), self.labels(batch), reduction="none")


def make_auxiliary(encoder: RowEncoder, target: int, dims: Sequence[int], gen: torch.Generator) -> Auxiliary:
    """A classifier of column ``target`` (categorical) from the other encoded columns."""
    span = encoder.spans[target][0]
    mask = torch.ones(encoder.width)
    mask[span.start:span.stop] = 0.0
    model = mlp(encoder.width, dims, span.size)
    init_(model, gen)
    return Auxiliary(model, mask, span.start, span.stop)


def project_spectral_(module: nn.Module, bound: float = 1.0) -> None:
    """Scale every Linear weight whose spectral norm exceeds ``bound`` back onto it (in place).

    With 1-Lipschitz activations (LeakyReLU) this keeps the critic ``bound``^depth-Lipschitz,
    the constraint WGAN needs (Miyato et al. 2018 normalise by the spectral norm; this is the
    projection variant, which leaves smaller weights alone). It reads only the released
    parameters, so it is post-processing of the DP-SGD step.
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                s = float(torch.linalg.matrix_norm(m.weight, ord=2))
                if s > bound:
                    m.weight.mul_(bound / s)


class CriticLoss:
    """Per-row critic loss on [real row | condition | fake row | u] (see the module docstring).

    Row i's fake and real inputs go through the critic as one sequence of two positions,
    shape (n, 2, d): Opacus's Linear grad samplers (and ghost clipping's norms) treat the
    positions of a row as one sample, so the row's whole Wasserstein term is clipped once.
    (Two separate forward calls of the same layers are not one sample to Opacus's hooks.)

    ``gp_weight`` > 0 adds the gradient penalty (needs the ``functorch`` engine: double
    back-propagation). Lazy regularisation (Karras et al. 2020, "Analyzing and improving the
    image quality of StyleGAN", Sec. 3.1): the penalty, whose per-sample gradient costs
    several times the rest, is added on every ``gp_every``-th step only, with weight
    ``gp_every``·λ so that its average strength is unchanged. Which steps carry it is fixed
    in advance (public); every step's per-row gradient is clipped to C whatever its loss,
    so the privacy analysis is that of any other DP-SGD step.
    """

    def __init__(self, encoder: RowEncoder, gp_weight: float, gp_every: int) -> None:
        self.width, self.cond_width = encoder.width, encoder.cond_width
        self.gp_weight = gp_weight
        self.gp_every = gp_every
        self.step = 0

    def __call__(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        w, c = self.width, self.cond_width
        x, cond = batch[:, :w], batch[:, w:w + c]
        fake, u = batch[:, w + c:2 * w + c], batch[:, 2 * w + c:2 * w + c + 1]
        # Row i's Wasserstein term pairs its real row with a fake row of the same condition
        # (CTGAN pairs real and fake batches by condition the same way). Keeping the fake term
        # inside the clipped per-row gradient balances it against the clipped real term: an
        # unclipped fake term would dominate the update (it costs no privacy either way).
        pair = torch.stack([torch.cat([fake, cond], dim=1), torch.cat([x, cond], dim=1)], dim=1)
        scores = model(pair).squeeze(-1)
        wasserstein = scores[:, 0] - scores[:, 1]
        if self.gp_weight == 0.0 or self.step % self.gp_every != 0:
            return wasserstein
        x_hat = u * x + (1.0 - u) * fake

        def score(z: torch.Tensor) -> torch.Tensor:
            return model(torch.cat([z, cond], dim=1)).sum()

        # Gulrajani et al. 2017, Eq. 3; the sum over rows separates, so row i's input
        # gradient is that of its own score only.
        g = torch.func.grad(score)(x_hat)
        penalty = (torch.sqrt((g**2).sum(dim=1) + 1e-12) - 1.0) ** 2
        return wasserstein + self.gp_every * self.gp_weight * penalty


class GanLoop:
    """The generator's side of training: everything here is post-processing of DP outputs.

    Args:
        encoder: Row encoder.
        sampler: Conditional-vector sampler (from DP frequencies).
        generator: G.
        critic: D (trained by DP-SGD elsewhere; read-only here).
        auxiliary: The DP-trained classifier, or None.
        batch_size: Fake rows per step.
        embedding_dim: Dimension of z.
        lr: Generator learning rate.
        auxiliary_weight: Weight of the auxiliary loss.
        gen: Torch generator for z, conditions and Gumbel noise.
    """

    def __init__(
        self,
        encoder: RowEncoder,
        sampler: CondSampler,
        generator: nn.Module,
        critic: nn.Module,
        auxiliary: Auxiliary | None,
        *,
        batch_size: int,
        embedding_dim: int,
        lr: float,
        auxiliary_weight: float,
        gen: torch.Generator,
    ) -> None:
        self.encoder = encoder
        self.sampler = sampler
        self.generator = generator
        # The generator reads a hook-free snapshot of the critic (Opacus's hooks sit on the
        # trained critic's layers; a generator step must not feed them).
        self.critic = copy.deepcopy(critic)
        self._source = critic
        for p in self.critic.parameters():
            p.requires_grad_(False)
        self.auxiliary = auxiliary
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.auxiliary_weight = auxiliary_weight
        self.gen = gen
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.9), weight_decay=1e-6)

    def fake(self, cond: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw output, activated rows) of G for conditions ``cond``."""
        z = torch.randn(cond.shape[0], self.embedding_dim, generator=gen)
        raw = self.generator(torch.cat([z, cond], dim=1))
        return raw, activate(raw, self.encoder, gen)

    def augment(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Per-row training randomness for the critic step: condition, paired fake row, u."""
        n = batch.shape[0]
        cond = self.sampler.of_rows(batch, gen)
        fake = torch.zeros(0, self.encoder.width)
        if n:
            with torch.no_grad():
                fake = self._fakes_with_public_statistics(cond, gen)
        u = torch.rand(n, 1, generator=gen)
        return torch.cat([batch, cond, fake.to(batch.dtype), u], dim=1)

    def _fakes_with_public_statistics(self, cond: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """G's rows for ``cond``, batch-normalised with the statistics of a *public* batch.

        In training mode row i's fake would depend on every other row's condition through
        the batch statistics (outside the per-row clipping), and the running statistics,
        released with G, would absorb the real rows' categories. Eval mode with the running
        statistics avoids both but lags the training-mode generator that the generator steps
        optimise (measured: one-way TVD 0.08 → 0.11 at ε = 1). So, as a reference batch
        (Salimans et al. 2016), a fresh batch of conditions drawn from the DP frequencies
        sets the statistics (momentum 1), the rows are generated in eval mode with them, and
        the running statistics are put back: each fake reads only its own condition, public
        randomness and G.
        """
        g = self.generator
        norms = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [
            (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone(),  # type: ignore[union-attr]
             m.momentum)
            for m in norms
        ]
        try:
            if norms:
                ref, _, _ = self.sampler.sample(max(self.batch_size, 2), gen, log=False)
                for m in norms:
                    m.momentum = 1.0
                g.train()
                self.fake(ref, gen)
            g.eval()
            _, fake = self.fake(cond, gen)
        finally:
            for m, (mean, var, count, momentum) in zip(norms, saved, strict=True):
                m.running_mean.copy_(mean)  # type: ignore[union-attr]
                m.running_var.copy_(var)  # type: ignore[union-attr]
                m.num_batches_tracked.copy_(count)  # type: ignore[union-attr]
                m.momentum = momentum
            g.train()
        return fake

    def sync(self) -> None:
        """Copy the critic's released parameters into the generator's snapshot."""
        with torch.no_grad():
            for a, b in zip(self.critic.parameters(), self._source.parameters(), strict=True):
                a.copy_(b)

    def generator_step(self) -> None:
        """One generator update; it reads no private row (post-processing)."""
        cond, which, cats = self.sampler.sample(self.batch_size, self.gen, log=True)
        raw, fake = self.fake(cond, self.gen)
        loss = -self.critic(torch.cat([fake, cond], dim=1)).mean()
        loss = loss + conditional_loss(raw, self.encoder, which, cats)
        if self.auxiliary is not None:
            aux = self.auxiliary
            logits = aux.model(aux.features(fake))
            loss = loss + self.auxiliary_weight * nn.functional.cross_entropy(logits, aux.labels(fake.detach()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=list(self.generator.parameters()))
        self.optimizer.step()


def generate(
    generator: nn.Module,
    encoder: RowEncoder,
    cond: torch.Tensor,
    embedding_dim: int,
    gen: torch.Generator,
) -> np.ndarray:
    """Encoded rows from G in eval mode: α in [−1, 1], one-hot groups as Gumbel-perturbed scores.

    The argmax of Gumbel-perturbed logits is a draw from their softmax (the Gumbel-max
    trick), so decoding by argmax samples each category with the generator's probability.
    """
    generator.eval()
    with torch.no_grad():
        z = torch.randn(cond.shape[0], embedding_dim, generator=gen)
        raw = generator(torch.cat([z, cond], dim=1))
        out = activate(raw, encoder, gen)
    return np.asarray(out.numpy(), dtype=np.float64)
