"""Shared pieces of the neural generators: a public table codec and small torch models.

Importing this module imports torch; generators import it inside ``fit`` / ``sample``.

The codec is built from the public :class:`~dpsynth.data.domain.Domain` only, so encoding
and decoding cost no budget:

* categorical / ordinal columns → one-hot over the metadata's categories (plus a last
  "missing" slot when nullable); decoded by argmax of the model's logits;
* numeric / datetime columns → a one-hot of the value's bin among the column's edges
  (DP-quantile edges from domain inference, the metadata's ``edges``, or equal-width bins
  over the public bounds) plus the position within the bin as one value in [−1, 1] — a
  mode-specific normalisation (as CTAB-GAN's) on DP or public quantiles, so that atoms
  such as capital-gain = 0 keep a bin of their own and come back exact; integers are placed
  at the middle of their unit cell so that decoding (floor) returns them exactly. A
  nullable numeric column adds a two-slot present/missing block. Decoding takes the argmax
  bin, the position within it, and clips to the public bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from dpsynth.data.domain import Column, Domain, category_key
from dpsynth.data.numeric import numbers_of, snap
from dpsynth.errors import InvalidDataError


@dataclass(frozen=True)
class Block:
    """Where one column lives in the encoded row.

    Attributes:
        name: Column name.
        kind: ``"cat"`` (one-hot, ``width`` slots) or ``"num"`` (a one-hot of ``width − 1``
            bins, then the position within the bin).
        start: First position.
        width: Number of positions.
        missing: For ``"num"``: the start of its present/missing block, or -1.
    """

    name: str
    kind: str
    start: int
    width: int
    missing: int = -1


class TableCodec:
    """Encodes rows of a domain's table as float vectors and decodes model outputs to rows."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.blocks: list[Block] = []
        #: Two-slot present/missing blocks of nullable numeric columns: (start, column name).
        self.missing_blocks: list[tuple[int, str]] = []
        self._edges: dict[str, np.ndarray] = {}
        pos = 0
        for col in domain:
            if col.is_numeric:
                self._edges[col.name] = _edges(col)
                k = len(self._edges[col.name]) - 1
                miss = -1
                if col.nullable:
                    miss = pos + k + 1
                self.blocks.append(Block(col.name, "num", pos, k + 1, miss))
                pos += k + 1
                if col.nullable:
                    self.missing_blocks.append((pos, col.name))
                    pos += 2
            else:
                k = len(col.categories or ()) + (1 if col.nullable else 0)
                self.blocks.append(Block(col.name, "cat", pos, k))
                pos += k
        self.width = pos

    @property
    def cat_slices(self) -> list[tuple[int, int]]:
        """(start, width) of every one-hot block (categorical columns and missing flags)."""
        out = [(b.start, b.width if b.kind == "cat" else b.width - 1) for b in self.blocks]
        return out + [(s, 2) for s, _ in self.missing_blocks]

    @property
    def num_positions(self) -> list[int]:
        """Positions of the within-bin values of numeric columns."""
        return [b.start + b.width - 1 for b in self.blocks if b.kind == "num"]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode a frame (as ``Table.to_frame(domain)`` gives it) to an (n, width) matrix."""
        n = len(frame)
        out = np.zeros((n, self.width), dtype=np.float32)
        problems = []
        for col, block in zip(self.domain, self.blocks, strict=True):
            values = frame[col.name].reset_index(drop=True)
            miss = values.isna().to_numpy()
            if block.kind == "cat":
                index = {category_key(c): i for i, c in enumerate(col.categories or ())}
                codes = np.array([-1 if m else index.get(category_key(v), -1) for v, m in zip(values, miss, strict=True)])
                if col.nullable:
                    codes[miss] = block.width - 1
                bad = int((codes < 0).sum())
                if bad:
                    problems.append(f"column {col.name!r}: {bad} value(s) outside the declared categories or missing")
                    continue
                out[np.arange(n), block.start + codes] = 1.0
                continue
            x = numbers_of(values, col)
            miss = miss | np.isnan(x)
            if miss.any() and not col.nullable:
                problems.append(f"column {col.name!r}: {int(miss.sum())} missing value(s) but the column is not nullable")
                continue
            bins, offset = self._to_bin(col, x[~miss])
            rows = np.flatnonzero(~miss)
            out[rows, block.start + bins] = 1.0
            out[rows, block.start + block.width - 1] = offset
            if block.missing >= 0:
                out[:, block.missing] = (~miss).astype(np.float32)
                out[:, block.missing + 1] = miss.astype(np.float32)
        if problems:
            raise InvalidDataError(problems, hint="Validate the data against the metadata (dpsynth.data.io.validate).")
        return out

    def _to_bin(self, col: Column, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = self._edges[col.name]
        k = len(e) - 1
        v = x + 0.5 if col.integer else x
        v = np.clip(v, e[0], np.nextafter(e[-1], -np.inf))
        i = np.clip(np.searchsorted(e, v, side="right") - 1, 0, k - 1)
        frac = (v - e[i]) / (e[i + 1] - e[i])
        return i, (2.0 * frac - 1.0).astype(np.float32)

    def _from_bin(self, col: Column, i: np.ndarray, s: np.ndarray) -> np.ndarray:
        e = self._edges[col.name]
        frac = np.clip((np.asarray(s, dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0 - 1e-9)
        x = e[i] + frac * (e[i + 1] - e[i])
        lo = col.lower if col.lower is not None else e[0]
        hi = col.upper if col.upper is not None else e[-1]
        if col.integer:
            x = np.clip(np.floor(x), math.ceil(lo), math.floor(hi))
        return snap(col, np.clip(x, lo, hi))  # on the column's grid (step), atoms exact

    def decode(self, out: np.ndarray) -> pd.DataFrame:
        """Rows from model outputs (logits for one-hot blocks, values for numeric ones).

        Categories by argmax; numbers through the inverse transform, clipped to the public
        bounds and typed as :meth:`Discretizer.decode` types them (Int64, float64,
        datetime64, object). Post-processing: reads no private data.
        """
        out = np.asarray(out, dtype=np.float64)
        data: dict[str, pd.Series] = {}
        flags = {name: start for start, name in self.missing_blocks}
        for col, block in zip(self.domain, self.blocks, strict=True):
            if block.kind == "cat":
                codes = np.argmax(out[:, block.start : block.start + block.width], axis=1)
                cats = np.empty(block.width + 1, dtype=object)
                cats[: len(col.categories or ())] = list(col.categories or ())
                cats[len(col.categories or ()) :] = None
                data[col.name] = pd.Series(cats[codes], dtype=object)
                continue
            bins = np.argmax(out[:, block.start : block.start + block.width - 1], axis=1)
            values = self._from_bin(col, bins, out[:, block.start + block.width - 1])
            present = np.ones(len(out), dtype=bool)
            if col.name in flags:
                s = flags[col.name]
                present = out[:, s] >= out[:, s + 1]
            if col.kind == "datetime":
                micros = np.where(present, np.round(values * 1e6), 0).astype(np.int64)
                series = pd.Series(micros.astype("datetime64[us]"))
                series[~present] = pd.NaT
            elif col.integer or (col.step is not None and float(col.step).is_integer()):
                series = pd.Series(pd.arrays.IntegerArray(np.where(present, values, 0).astype(np.int64), ~present))
            else:
                series = pd.Series(np.where(present, values, np.nan), dtype=np.float64)
            data[col.name] = series
        return pd.DataFrame(data, columns=list(self.domain.names))


def _edges(col: Column) -> np.ndarray:
    """Bin edges of a numeric column from public/DP information only."""
    if col.edges is not None:
        e = np.asarray(col.edges, dtype=np.float64)
    else:
        lo, hi = float(col.lower), float(col.upper)  # type: ignore[arg-type]
        if col.integer:
            hi = math.floor(hi) + 1.0
            lo = float(math.ceil(lo))
        if hi <= lo:
            hi = lo + 1.0
        e = np.linspace(lo, hi, (col.bins or 32) + 1)
    if col.integer:
        # Bins are [a, b): the last must reach past the largest whole number allowed.
        top = math.floor(col.upper) + 1.0 if col.upper is not None else e[-1] + 1.0
        e = e.copy()
        e[-1] = max(e[-1], top)
    return np.unique(e)


# -- models -------------------------------------------------------------------------------
def _mlp(d_in: int, hidden: int, d_out: int, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = [nn.Linear(d_in, hidden), nn.SiLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), nn.SiLU()]
    mods.append(nn.Linear(hidden, d_out))
    return nn.Sequential(*mods)


class Autoencoder(nn.Module):
    """MLP autoencoder with latents bounded in (−1, 1) by a tanh.

    The bound fixes the latent scale by architecture, so the diffusion model needs no
    (private) standardisation statistics: it is trained with EDM's σ_data = 0.5, the
    standard deviation scale of data in [−1, 1].
    """

    def __init__(self, d_in: int, d_latent: int, hidden: int) -> None:
        super().__init__()
        self.encoder = _mlp(d_in, hidden, d_latent)
        self.decoder = _mlp(d_latent, hidden, d_in)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent of each row."""
        return torch.tanh(self.encoder(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits and values in the codec's layout."""
        decoded: torch.Tensor = self.decoder(z)
        return decoded


def reconstruction_loss(out: torch.Tensor, x: torch.Tensor, codec: TableCodec) -> torch.Tensor:
    """Per-row loss: cross-entropy on each one-hot block plus squared error on each number."""
    loss = torch.zeros(x.shape[0], dtype=out.dtype)
    for start, width in codec.cat_slices:
        logits = out[:, start : start + width]
        target = x[:, start : start + width]
        loss = loss - (F.log_softmax(logits, dim=1) * target).sum(1)
    num = codec.num_positions
    if num:
        idx = torch.tensor(num)
        err = (out[:, idx] - x[:, idx]) ** 2
        # A missing number was encoded as 0 and its value is not learned.
        weight = torch.ones_like(err)
        for start, name in codec.missing_blocks:
            j = [b.name for b in codec.blocks if b.kind == "num"].index(name)
            weight[:, j] = x[:, start]
        loss = loss + (weight * err).sum(1)
    return loss


def _time_features(c_noise: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=c_noise.dtype) / half)
    args = c_noise[:, None] * freqs[None, :] * 1000.0
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class Denoiser(nn.Module):
    """EDM denoiser D(x; σ) with Karras et al. (2022, Table 1) preconditioning around an MLP."""

    def __init__(self, d: int, hidden: int, *, sigma_data: float = 0.5, dim_t: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.sigma_data = sigma_data
        self.dim_t = dim_t
        self.embed_x = nn.Linear(d, hidden)
        self.embed_t = nn.Linear(dim_t, hidden)
        mods: list[nn.Module] = []
        for _ in range(layers):
            mods += [nn.SiLU(), nn.Linear(hidden, hidden)]
        mods += [nn.SiLU(), nn.Linear(hidden, d)]
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The denoised estimate of x (rows) at noise levels sigma (one per row)."""
        sd = self.sigma_data
        s = sigma[:, None]
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / torch.sqrt(s**2 + sd**2)
        c_in = 1.0 / torch.sqrt(s**2 + sd**2)
        c_noise = torch.log(sigma) / 4.0
        h = self.embed_x(c_in * x) + self.embed_t(_time_features(c_noise, self.dim_t))
        out: torch.Tensor = c_skip * x + c_out * self.net(h)
        return out


#: EDM training noise distribution: ln σ ~ N(P_mean, P_std²) (Karras et al. 2022, Sec. 5).
P_MEAN, P_STD = -1.2, 1.2


def edm_loss(model: nn.Module, batch: torch.Tensor, d: int) -> torch.Tensor:
    """Per-row EDM loss λ(σ)‖D(z + σε; σ) − z‖²/d; ``batch`` holds [z, n₀, ε] per row."""
    z, n0, eps = batch[:, :d], batch[:, d], batch[:, d + 1 :]
    sigma = torch.exp(P_MEAN + P_STD * n0)
    sd = float(getattr(model, "sigma_data", 0.5))
    weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
    denoised = model(z + sigma[:, None] * eps, sigma)
    return weight * ((denoised - z) ** 2).mean(1)


@torch.no_grad()
def edm_sample(
    model: Denoiser, n: int, d: int, *, steps: int, generator: torch.Generator,
    sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
) -> torch.Tensor:
    """Deterministic Heun sampler (Karras et al. 2022, Alg. 1) from N(0, σ_max²)."""
    i = torch.arange(steps, dtype=torch.float64)
    t = (sigma_max ** (1 / rho) + i / max(steps - 1, 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    t = torch.cat([t, torch.zeros(1, dtype=torch.float64)]).float()
    x = torch.randn(n, d, generator=generator) * t[0]
    for k in range(steps):
        s, s_next = t[k], t[k + 1]
        denoised = model(x, s.expand(n))
        dx = (x - denoised) / s
        x_next = x + (s_next - s) * dx
        if s_next > 0:
            d2 = (x_next - model(x_next, s_next.expand(n))) / s_next
            x_next = x + (s_next - s) * 0.5 * (dx + d2)
        x = x_next
    return x
