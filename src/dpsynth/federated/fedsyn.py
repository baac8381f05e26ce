"""FedSyn-style federated training of a neural generator: DP-FedSGD of a small VAE, distributed noise.

FedSyn (Behera et al. 2022) trains one generator across organisations by federated
averaging. Here the generator is a variational autoencoder on the public one-hot codec of
the neural generators (:class:`~dpsynth.synth._neural.TableCodec`), trained with
*sample-level* DP by distributed DP-SGD (federated SGD with one local step per round, the
form of DP-FedAvg whose privacy is exactly central DP-SGD's):

1. the server broadcasts the model's weights and the round's (q, σ, C);
2. every client includes each of its rows independently with probability q (so every row
   of the federation is Poisson-sampled at q), computes each sampled row's gradient,
   clips it to L2 norm C, sums, adds its *share* of Gaussian noise N(0, σ²C²/K), and adds
   pairwise masks that cancel in the sum (secure aggregation, simulated: float64 masks from
   the same SHAKE-128 seeds as the count protocol; the sum cancels them up to float64
   rounding, ~1e-11 of the masks' range);
3. the server sums the masked vectors — the masks cancel, the noise adds up to
   N(0, σ²C²) — divides by the expected batch q·n̂ and takes an Adam step.

Privacy: add/remove one row (of any client). The server learns, per round, a Poisson-
subsampled Gaussian sum of clipped gradients — the release central DP-SGD makes — so the
server's one :class:`~dpsynth.privacy.Accountant` charges
:class:`~dpsynth.privacy.SubsampledGaussianMechanism` (PLD accounting) for all rounds before
the first, with σ calibrated by :func:`dpsynth.dpsgd.calibrate`. The row count n̂ that sets
q is a distributed discrete Gaussian count (a small share of the budget). No client's
un-noised gradient sum or count leaves it unmasked; each client's own noise share alone does
not protect its rows from the other clients' view — nothing but masked vectors is sent.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.federated.protocol import (
    DistributedGaussianMechanism,
    aggregate,
    check_federation,
    client_contribution,
    pairwise_seeds,
)
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from dpsynth.privacy.random import RandomState, make_rng
from dpsynth.progress import track
from dpsynth.synth.base import Synthesizer, as_budget
from dpsynth.synth.marginal import check_int

#: Float masks are uniform on [−MASK_RANGE, MASK_RANGE).
MASK_RANGE = 2.0**20


def float_mask(seed: bytes, round_id: int, size: int) -> np.ndarray:
    """A pairwise float64 mask, expanded with SHAKE-128 from the pair's seed and the round."""
    stream = hashlib.shake_128(b"float" + seed + round_id.to_bytes(8, "little")).digest(8 * size)
    u = np.frombuffer(stream, dtype="<u8").astype(np.float64) / 2.0**64
    return (2.0 * u - 1.0) * MASK_RANGE


def _vae(d_in: int, latent: int, hidden: int) -> Any:
    import torch
    from torch import nn

    from dpsynth.synth._neural import _mlp

    class VAE(nn.Module):
        """Encoder to (μ, log σ²) of a Gaussian latent; decoder to the codec's logits."""

        def __init__(self) -> None:
            super().__init__()
            self.latent = latent
            self.encoder = _mlp(d_in, hidden, 2 * latent, layers=1)
            self.decoder = _mlp(latent, hidden, d_in, layers=2)

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.decoder(z)
            return out

    return VAE()


def vae_loss(model: Any, batch: Any, codec: Any) -> Any:
    """Per-row negative ELBO; ``batch`` holds [x, ε] per row (ε: the reparameterisation noise)."""
    import torch

    from dpsynth.synth._neural import reconstruction_loss

    d = codec.width
    x, eps = batch[:, :d], batch[:, d:]
    mu, logvar = model.encoder(x).chunk(2, dim=1)
    logvar = logvar.clamp(-8.0, 8.0)
    z = mu + torch.exp(0.5 * logvar) * eps
    kl = 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).sum(1)
    return reconstruction_loss(model.decode(z), x, codec) + kl


class FedSynClient:
    """One client of the neural federation: its rows (never sent), its mask seeds, its noise.

    Args:
        table: The client's rows.
        domain: The public domain.
        index: The client's position 0 … K−1.
        seeds: Secure-aggregation seeds shared with every other client.
        random_state: Seed of its sampling and noise (research only; None = os.urandom).
    """

    def __init__(self, table: pd.DataFrame, domain: Domain, index: int, seeds: dict[int, bytes],
                 *, random_state: RandomState = None, latent: int = 8, hidden: int = 64) -> None:
        from dpsynth.synth._neural import TableCodec

        Discretizer(domain).encode_frame(table)  # rejects values outside the domain, every column at once
        self._codec = TableCodec(domain)
        self._x = self._codec.encode(table)
        self.index = index
        self._seeds = seeds
        self._latent, self._hidden = latent, hidden
        self._seed = None if random_state is None else int(make_rng(random_state).integers(2**62))

    def _noise(self, round_id: int) -> NoiseSource:
        return NoiseSource(None if self._seed is None else np.random.default_rng([self._seed, round_id]))

    def handle(self, request: dict[str, Any], weights: Sequence[np.ndarray]) -> np.ndarray:
        """Answer one round: a masked count (``kind="count"``) or a masked noisy gradient sum (``"step"``)."""
        round_id = int(request["round"])
        noise = self._noise(round_id)
        clients = int(request["clients"])
        if request["kind"] == "count":
            return client_contribution(np.array([self._x.shape[0]], dtype=np.int64), index=self.index,
                                       seeds=self._seeds, round_id=round_id, sigma=float(request["sigma"]),
                                       clients=clients, noise=noise)
        import torch

        from dpsynth.dpsgd import per_sample_gradients

        q, sigma, c = float(request["q"]), float(request["sigma"]), float(request["max_grad_norm"])
        model = _vae(self._codec.width, self._latent, self._hidden)
        with torch.no_grad():
            for p, w in zip(model.parameters(), weights, strict=True):
                p.copy_(torch.from_numpy(np.asarray(w, dtype=np.float32)))
        size = sum(p.numel() for p in model.parameters())
        chosen = np.flatnonzero(noise.uniform(self._x.shape[0]) < q)  # Poisson sampling at q
        total = np.zeros(size, dtype=np.float64)
        if chosen.size:
            eps = noise.gaussian(1.0, (chosen.size, self._latent)).astype(np.float32)
            batch = torch.from_numpy(np.concatenate([self._x[chosen], eps], axis=1))
            grads = per_sample_gradients(model, lambda m, b: vae_loss(m, b, self._codec), batch)
            flat = torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1).double()
            scale = torch.clamp(c / (flat.norm(dim=1) + 1e-12), max=1.0)
            total = (flat * scale[:, None]).sum(0).numpy()
        noisy = total + noise.gaussian(sigma * c / math.sqrt(clients), size)
        for other, seed in self._seeds.items():
            m = float_mask(seed, round_id, size)
            noisy = noisy + m if other > self.index else noisy - m
        return noisy


class FedSynFederation:
    """K neural-federation clients in this process; counts the bytes each sends and receives.

    Args:
        partitions: One DataFrame of rows per client.
        domain: The public domain (complete).
        random_state: Seed of the clients' sampling and noise (research only).
        latent: Latent width of the VAE (public architecture, shared by all).
        hidden: Hidden width of the VAE.
    """

    def __init__(self, partitions: Sequence[pd.DataFrame], domain: Domain, *, random_state: RandomState = None,
                 latent: int = 8, hidden: int = 64) -> None:
        check_federation(partitions, domain)
        self.domain = domain
        self.n_clients = len(partitions)
        self.latent, self.hidden = latent, hidden
        seeds = pairwise_seeds(self.n_clients)
        rng = make_rng(random_state) if random_state is not None else None
        self.seeded = rng is not None
        self._clients = [
            FedSynClient(p, domain, i, seeds[i], random_state=None if rng is None else int(rng.integers(2**62)),
                         latent=latent, hidden=hidden)
            for i, p in enumerate(partitions)
        ]
        self.bytes_up = np.zeros(self.n_clients, dtype=np.int64)
        self.bytes_down = np.zeros(self.n_clients, dtype=np.int64)

    def broadcast(self, request: dict[str, Any], weights: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Send the request and the weights to every client; return their masked vectors."""
        wire = json.dumps(request)
        down = len(wire.encode()) + sum(int(np.asarray(w).nbytes) for w in weights)
        out = []
        for c in self._clients:
            vec = c.handle(json.loads(wire), weights)
            self.bytes_down[c.index] += down
            self.bytes_up[c.index] += vec.nbytes
            out.append(vec)
        return out


class FederatedDPVAE(Synthesizer):
    """A VAE trained across a horizontal federation by distributed DP-SGD (FedSyn-style neural baseline).

    Args:
        steps: Federated rounds (one noisy clipped gradient sum each).
        batch_size: Expected rows per round over the whole federation (q = batch_size / n̂).
        max_grad_norm: Per-row clipping norm C.
        lr: Adam's learning rate on the server.
        count_share: Share of the budget's ρ for the distributed DP row count.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    name = "federated_dpvae"

    def __init__(self, *, steps: int = 300, batch_size: int = 512, max_grad_norm: float = 1.0, lr: float = 2e-2,
                 count_share: float = 0.02, random_state: RandomState = None) -> None:
        super().__init__(random_state=random_state)
        self.steps = steps
        self.batch_size = batch_size
        self.max_grad_norm = max_grad_norm
        self.lr = lr
        self.count_share = count_share

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int(self.steps, "steps", "FederatedDPVAE")
        check_int(self.batch_size, "batch_size", "FederatedDPVAE")
        check_positive(self.max_grad_norm, "max_grad_norm", "FederatedDPVAE")
        check_positive(self.lr, "lr", "FederatedDPVAE")
        if not (isinstance(self.count_share, int | float) and 0.0 < self.count_share < 1.0):
            raise InvalidParameterError(f"The 'count_share' parameter of FederatedDPVAE must be in (0, 1). "
                                        f"Got {self.count_share!r} instead.")

    def fit(self, data: Any, budget: PrivacyBudget | tuple[float, float] | float) -> Self:  # type: ignore[override]
        """Train over the federation; the server keeps the only accountant."""
        self._validate_params()
        budget = as_budget(budget)
        if not all(hasattr(data, a) for a in ("broadcast", "n_clients", "domain", "latent", "hidden")):
            raise InvalidParameterError(
                f"FederatedDPVAE.fit needs a federation (e.g. FedSynFederation). Got {type(data).__name__}."
            )

        from dpsynth.dpsgd import (
            torch_threads,
        )

        with torch_threads(1):  # small per-round work: threads cost more than they give
            return self._train(data, budget)

    def _train(self, data: Any, budget: PrivacyBudget) -> Self:
        import torch

        from dpsynth.dpsgd import (
            DPSGDConfig,
            Stage,
            calibrate,
            mechanism,
            sample_rate_for,
            torch_generator,
        )

        K = data.n_clients
        accountant = Accountant(budget, seeded=self.random_state is not None or bool(getattr(data, "seeded", False)))
        accountant.notes.append(
            f"Federated over {K} clients: each round's gradient is a secure-aggregation sum of the clients' clipped "
            "per-row gradient sums, each with its share of Gaussian noise (distributed DP-SGD); the server saw only "
            "the noisy sums."
        )
        # The DP row count that sets the sample rate: a distributed discrete Gaussian count.
        sigma_n = max(math.sqrt(1.0 / (2.0 * self.count_share * accountant.rho_budget)), 0.5 * math.sqrt(K))
        while DistributedGaussianMechanism(sigma_n, K, 1).rho > self.count_share * accountant.rho_budget:
            sigma_n *= 1.001
        accountant.charge(DistributedGaussianMechanism(sigma_n, K, 1), step="federated_dpvae.count",
                          description="row count (secure aggregation)")
        request = {"kind": "count", "round": 0, "sigma": sigma_n, "clients": K}
        n_hat = max(float(aggregate(data.broadcast(request, []))[0]), 1.0)
        q = sample_rate_for(self.batch_size, n_hat)
        config = DPSGDConfig(steps=self.steps, batch_size=self.batch_size, max_grad_norm=self.max_grad_norm,
                             lr=self.lr)
        (sigma,) = calibrate(accountant, [Stage("federated_dpvae.train", config, q)])
        accountant.charge(mechanism(config, sigma, q), step="federated_dpvae.train",
                          description=f"{self.steps} rounds of distributed DP-SGD over {K} clients")
        noise = NoiseSource(self._noise_seed())
        gen = torch_generator(noise)
        from dpsynth.synth._neural import TableCodec

        codec = TableCodec(data.domain)
        model = _vae(codec.width, data.latent, data.hidden)
        with torch.no_grad():
            for p in model.parameters():  # public initialisation, drawn from the fit's own generator
                bound = 1.0 / math.sqrt(p.shape[-1]) if p.dim() > 1 else 0.05
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        with track("Federated DP-VAE: rounds", total=float(self.steps)) as progress:
            for t in range(1, self.steps + 1):
                weights = [p.detach().numpy().copy() for p in model.parameters()]
                request = {"kind": "step", "round": t, "q": q, "sigma": sigma,
                           "max_grad_norm": self.max_grad_norm, "clients": K}
                total = np.sum(data.broadcast(request, weights), axis=0) / (q * n_hat)
                opt.zero_grad()
                start = 0
                for p in model.parameters():
                    p.grad = torch.from_numpy(total[start : start + p.numel()].reshape(p.shape)).float()
                    start += p.numel()
                opt.step()
                progress(float(t))
        model.eval()
        self._vae, self._codec = model, codec
        self.latent_, self.hidden_ = data.latent, data.hidden
        self.n_hat_ = n_hat
        self.noise_multiplier_ = float(sigma)
        self.sample_rate_ = float(q)
        self.domain_ = data.domain
        self._report = accountant.report()
        return self

    def _fit(self, data: Any) -> None:  # pragma: no cover - fit is overridden
        raise NotImplementedError

    def _row_estimate(self) -> int | None:
        return round(self.n_hat_)

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        import torch

        self._ensure_model()
        z = torch.from_numpy(rng.standard_normal((n, self.latent_)).astype(np.float32))
        with torch.no_grad():
            logits = self._vae.decode(z).numpy()
        out = logits.copy()
        for start, width in self._codec.cat_slices:  # draw each one-hot block from its softmax
            block = logits[:, start : start + width]
            p = np.exp(block - block.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            pick = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
            out[:, start : start + width] = 0.0
            out[np.arange(n), start + pick] = 1.0
        return self._codec.decode(out)

    def _ensure_model(self) -> None:
        if hasattr(self, "_vae"):
            return
        import torch

        from dpsynth.synth._neural import TableCodec

        codec = TableCodec(self.domain_)
        model = _vae(codec.width, self.latent_, self.hidden_)
        with torch.no_grad():
            for i, p in enumerate(model.parameters()):
                p.copy_(torch.from_numpy(np.asarray(self._arrays[f"w{i}"])))
        model.eval()
        self._vae, self._codec = model, codec

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._ensure_model()
        arrays = {f"w{i}": p.detach().numpy().copy() for i, p in enumerate(self._vae.parameters())}
        state = {"latent": self.latent_, "hidden": self.hidden_, "n_hat": self.n_hat_,
                 "noise_multiplier": self.noise_multiplier_, "sample_rate": self.sample_rate_}
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.latent_, self.hidden_ = int(state["latent"]), int(state["hidden"])
        self.n_hat_ = float(state["n_hat"])
        self.noise_multiplier_ = float(state["noise_multiplier"])
        self.sample_rate_ = float(state["sample_rate"])
        self._arrays = arrays
