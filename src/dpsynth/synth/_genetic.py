"""The genetic search of Private-GSD (Liu, Tang, Vietri, Wu, ICML 2023, Alg. 1–2).

Post-processing only: it sees the public domain, the compiled workload and the *noisy*
answers (as target fractions with weights), never a private row.

A population of synthetic tables (``members``) evolves to minimise the weighted squared
error between each table's query answers (as fractions of its rows) and the targets. Each
generation every member spawns children by one of four operators (Sec. 4.1 of the paper,
adapted to mixed-type columns):

* mutate: one cell set to a fresh domain value (a category, or a numeric value drawn by
  bin and then uniformly within the bin);
* resample: one numeric cell redrawn uniformly within its current bin (a local,
  continuous move: numeric values are never rounded to bins);
* swap: one column's values exchanged between two rows of the member;
* crossover: some columns of one row copied from a row of another member.

A child differs from its parent in one or two rows, so its fitness is computed
*incrementally*: with ``r = A − N·t`` the parent's residual counts and
``δ = Σᵢ sᵢ·1[row i satisfies q]`` the change of counts (new rows with s = +1, old rows
with s = −1), the child's weighted sum of squares is
``Σ w (r + δ)² = Σ w r² + 2 Σ w r δ + Σ w δ²``; both sums are over the queries the
changed rows touch: one index per cell group, and the dense (range/halfspace) block.

Improving children of one member that change disjoint rows are then recombined (the
member takes all their changes at once) when that beats the best child alone; otherwise the
best child is taken. The member's counts are updated by the changed rows' indicators
(never recomputed from all rows) and its fitness from those counts. Every ``refresh``
generations the worse half of the population is replaced by copies of the elites. The
search stops when the best fitness improves by less than ``tol`` (relative) over
``patience`` generations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dpsynth.data.queries import ColumnSpec, CompiledWorkload

MUTATE, RESAMPLE, SWAP, CROSSOVER = 0, 1, 2, 3
#: Default mix of operators (mutate, resample, swap, crossover).
OPERATOR_MIX = (0.4, 0.25, 0.15, 0.2)
_PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
#: Fresh values drawn per column at a time (mutations take them from this pool).
POOL = 2048


class RowSampler:
    """Draws column values from public per-code probabilities (post-processed 1-way answers).

    Args:
        specs: The columns' representation.
        probs: Per column, probabilities over its codes (including the missing code), or
            None for uniform.
        explore: Share of draws made uniformly over the codes whatever ``probs`` says.
    """

    def __init__(self, specs: list[ColumnSpec], probs: list[np.ndarray | None], explore: float = 0.1) -> None:
        self.specs = specs
        self.cdf: list[np.ndarray] = []
        for s, p in zip(specs, probs, strict=True):
            u = np.full(s.size, 1.0 / s.size)
            if p is not None:
                p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
                u = (1 - explore) * (p / p.sum() if p.sum() > 0 else u) + explore * u
            self.cdf.append(np.cumsum(u) / u.sum())
        # Per numeric column: the value range of each bin (integers for integer columns).
        self.bin_lo: list[np.ndarray] = []
        self.bin_hi: list[np.ndarray] = []
        for s in specs:
            if not s.numeric:
                self.bin_lo.append(np.empty(0))
                self.bin_hi.append(np.empty(0))
                continue
            e = s.edges.copy()
            lo, hi = np.maximum(e[:-1], s.lower), np.minimum(e[1:], s.upper)
            if s.integer:
                lo = np.ceil(lo)
                # Bin b holds x with e_b <= x < e_{b+1}; the last bin includes the upper bound.
                hi = np.where(np.arange(hi.size) < hi.size - 1, np.ceil(e[1:]) - 1, np.floor(s.upper))
                hi = np.minimum(hi, s.upper)
            empty = hi < lo
            mid = np.clip(np.round((e[:-1] + e[1:]) / 2) if s.integer else (e[:-1] + e[1:]) / 2, s.lower, s.upper)
            self.bin_lo.append(np.where(empty, mid, lo))
            self.bin_hi.append(np.where(empty, mid, hi))

    def codes(self, j: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` codes of column ``j``."""
        return np.minimum(np.searchsorted(self.cdf[j], rng.random(n), side="right"), self.specs[j].size - 1)

    def values_of_codes(self, j: int, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Values of column ``j`` for codes: a category code, or a value within the bin (NaN if missing)."""
        s = self.specs[j]
        if not s.numeric:
            return codes.astype(np.float64)
        out = np.full(codes.size, np.nan)
        ok = codes < s.n_codes
        c = codes[ok]
        lo, hi = self.bin_lo[j][c], self.bin_hi[j][c]
        if s.integer:
            out[ok] = lo + np.floor(rng.random(c.size) * (hi - lo + 1))
            out[ok] = np.minimum(out[ok], hi)
        else:
            out[ok] = lo + rng.random(c.size) * (hi - lo)
        return out

    def draw(self, j: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` fresh values of column ``j``."""
        return self.values_of_codes(j, self.codes(j, n, rng), rng)

    def resample_in_bin(self, j: int, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Values redrawn uniformly within the bin of ``x`` (missing ones stay missing)."""
        return self.values_of_codes(j, self.specs[j].codes(x), rng)

    def table(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows, columns drawn independently."""
        return np.column_stack([self.draw(j, n, rng) for j in range(len(self.specs))])


@dataclass
class SearchResult:
    """What a search returns: the best table, its fitness, and how the search went."""

    best: np.ndarray
    fitness: float
    generations: int
    stopped_early: bool


class GeneticSearch:
    """Population, operators and incremental fitness of Private-GSD.

    Args:
        workload: The compiled workload (its queries are indexed as in the targets).
        target: (m,) target fractions (noisy answers over a DP row count; anything where
            ``weight`` is 0).
        weight: (m,) non-negative weights (inverse noise variances; 0 for unmeasured queries).
        sampler: Proposal distribution of fresh values.
        rng: Randomness of the search (post-processing).
        population: Number of members.
        children: Children per generation (spread over the members).
        operator_mix: Probabilities of mutate, resample, swap, crossover.
        refresh: Every this many generations, the worse half is replaced by the elites.
    """

    def __init__(
        self,
        workload: CompiledWorkload,
        target: np.ndarray,
        weight: np.ndarray,
        sampler: RowSampler,
        rng: np.random.Generator,
        *,
        population: int = 4,
        children: int = 256,
        operator_mix: tuple[float, float, float, float] = OPERATOR_MIX,
        refresh: int = 50,
    ) -> None:
        self.wl = workload
        self.sampler = sampler
        self.rng = rng
        self.P = population
        self.C = max(children, population)
        self.refresh = refresh
        self.numeric_cols = np.array([j for j, s in enumerate(workload.specs) if s.numeric], dtype=np.int64)
        mix = np.asarray(operator_mix, dtype=np.float64)
        if self.numeric_cols.size == 0:
            mix[RESAMPLE] = 0.0
        if population < 2:
            mix[CROSSOVER] = 0.0
        self.mix_cdf = np.cumsum(mix / mix.sum())
        self.set_targets(target, weight)
        self._pool: np.ndarray | None = None
        self._pool_used = 0
        self.X: np.ndarray = np.empty((0, 0, 0))
        self.A: np.ndarray = np.empty((0, 0))
        self.f: np.ndarray = np.empty(0)

    # -- state ----------------------------------------------------------------------------------
    def set_targets(self, target: np.ndarray, weight: np.ndarray) -> None:
        """Change the targets (a new round of measurements); refreshes every member's fitness."""
        self.t = np.asarray(target, dtype=np.float64)
        self.w = np.asarray(weight, dtype=np.float64)
        if self.t.shape != (self.wl.m,) or self.w.shape != (self.wl.m,):
            raise ValueError("target and weight need one value per query of the workload")
        self.t = np.where(self.w > 0, self.t, 0.0)
        if getattr(self, "A", np.empty(0)).size:
            self.f = np.array([self.fitness_of_counts(a) for a in self.A])

    def set_population(self, tables: list[np.ndarray]) -> None:
        """Start from these tables (all with the same number of rows); counts computed once."""
        self.X = np.stack([np.asarray(t, dtype=np.float64) for t in tables])
        self.N = self.X.shape[1]
        self.A = np.stack([self.wl.counts(x) for x in self.X])
        self.f = np.array([self.fitness_of_counts(a) for a in self.A])

    def fitness_of_counts(self, counts: np.ndarray) -> float:
        """Weighted squared error of answers ``counts / N`` to the targets."""
        r = counts / self.N - self.t
        return float(np.dot(self.w, r * r))

    def fitness(self, table: np.ndarray) -> float:
        """Fitness recomputed from scratch (for tests and checks)."""
        return self.fitness_of_counts(self.wl.counts(table))

    @property
    def best_index(self) -> int:
        """Index of the fittest member."""
        return int(np.argmin(self.f))

    # -- children ---------------------------------------------------------------------------------
    def propose(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Children of this generation: (parent, rows (C, 2), new values (C, 2, d)).

        The second row of a one-row operator is left unchanged (its new values equal the old).
        """
        rng, C, N = self.rng, self.C, self.N
        d = self.X.shape[2]
        parent = np.arange(C) % self.P
        ops = np.searchsorted(self.mix_cdf, rng.random(C), side="right").clip(0, 3)
        r1 = rng.integers(0, N, C)
        r2 = (r1 + 1 + rng.integers(0, max(N - 1, 1), C)) % N
        rows = np.column_stack([r1, r2])
        new = self.X[parent[:, None], rows].copy()  # (C, 2, d)
        col = rng.integers(0, d, C)
        for op in range(4):
            idx = np.flatnonzero(ops == op)
            if idx.size == 0:
                continue
            if op == MUTATE:
                new[idx, 0, col[idx]] = self._fresh(col[idx])
            elif op == RESAMPLE:
                cj = self.numeric_cols[rng.integers(0, self.numeric_cols.size, idx.size)]
                for j in np.unique(cj):
                    sel = idx[cj == j]
                    new[sel, 0, j] = self.sampler.resample_in_bin(int(j), new[sel, 0, j], rng)
            elif op == SWAP:
                a, b = new[idx, 0, col[idx]].copy(), new[idx, 1, col[idx]].copy()
                new[idx, 0, col[idx]], new[idx, 1, col[idx]] = b, a
            else:
                other = (parent[idx] + 1 + rng.integers(0, self.P - 1, idx.size)) % self.P
                src = self.X[other, rng.integers(0, N, idx.size)]  # (k, d)
                mask = rng.random((idx.size, d)) < 0.5
                mask[np.arange(idx.size), col[idx]] = True
                new[idx, 0] = np.where(mask, src, new[idx, 0])
        return parent, rows, new

    def _fresh(self, cols: np.ndarray) -> np.ndarray:
        """One fresh value for each entry of ``cols``, from per-column pools of draws."""
        if self._pool is None or self._pool_used + cols.size > POOL:
            d = len(self.wl.specs)
            self._pool = np.stack([self.sampler.draw(j, POOL, self.rng) for j in range(d)])
            self._pool_used = 0
        out = self._pool[cols, self._pool_used + np.arange(cols.size)]
        self._pool_used += cols.size
        return out

    def deltas(self, parent: np.ndarray, rows: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Exact change of each child's weighted sum of squared count residuals (incremental).

        Only the changed rows' indicators are evaluated: ``2 Σ w r δ + Σ w δ²``.
        """
        C, d = len(parent), new.shape[2]
        old = self.X[parent[:, None], rows]
        H = np.concatenate([new, old], axis=1).reshape(C * 4, d)  # rows: new1, new2, old1, old2
        s = np.array([1.0, 1.0, -1.0, -1.0])
        wl = self.wl
        wr = self.w * (self.A - self.N * self.t)  # (P, m) weighted residual of each member
        lin = np.zeros(C)
        quad = np.zeros(C)
        self._cells = self._dense = None
        if wl.n_cell_groups:
            cells = self._cells = wl.cells(H).reshape(C, 4, -1)
            lin += np.einsum("i,cig->c", s, wr.ravel()[parent[:, None, None] * wl.m + cells])
            # Σ_g Σ_ij s_i s_j [c_i = c_j] w_{c_i}: the diagonal, plus twice each pair i < j.
            wc = self.w[cells]  # (C, 4, G)
            quad += wc.sum(axis=(1, 2))
            for i, j in _PAIRS:
                sign = 2.0 * s[i] * s[j]
                quad += sign * np.where(cells[:, i] == cells[:, j], wc[:, i], 0.0).sum(axis=1)
        if wl.n_dense:
            D = wl.dense(H).reshape(C, 4, -1)
            S = self._dense = (D[:, 0].astype(np.int64) + D[:, 1] - D[:, 2] - D[:, 3])  # δ on the dense block
            lin += np.einsum("ck,ck->c", S, wr[parent, wl.n_cell :])
            quad += np.einsum("ck,ck,k->c", S, S, self.w[wl.n_cell :])
        return 2.0 * lin + quad

    def _children_delta(self, chosen: np.ndarray) -> np.ndarray:
        """Change of counts of taking all ``chosen`` children (from the last :meth:`deltas`)."""
        wl = self.wl
        delta = np.zeros(wl.m, dtype=np.int64)
        if self._cells is not None:
            cells = self._cells[chosen]
            delta += np.bincount(cells[:, :2].ravel(), minlength=wl.m)
            delta -= np.bincount(cells[:, 2:].ravel(), minlength=wl.m)
        if self._dense is not None:
            delta[wl.n_cell :] += self._dense[chosen].sum(axis=0)
        return delta

    def _count_delta(self, rows_new: np.ndarray, rows_old: np.ndarray) -> np.ndarray:
        """Change of counts when rows ``rows_old`` become ``rows_new`` (indicators of the changed rows only)."""
        wl = self.wl
        delta = np.zeros(wl.m, dtype=np.int64)
        if wl.n_cell_groups:
            delta += np.bincount(wl.cells(rows_new).ravel(), minlength=wl.m)
            delta -= np.bincount(wl.cells(rows_old).ravel(), minlength=wl.m)
        if wl.n_dense:
            delta[wl.n_cell :] += wl.dense(rows_new).sum(axis=0) - wl.dense(rows_old).sum(axis=0)
        return delta

    def apply(self, p: int, rows: np.ndarray, new: np.ndarray) -> None:
        """Member ``p`` takes new values for ``rows`` (distinct); counts updated incrementally."""
        old = self.X[p, rows]
        self.A[p] += self._count_delta(new, old)
        self.X[p, rows] = new
        self.f[p] = self.fitness_of_counts(self.A[p])

    def step(self) -> None:
        """One generation."""
        parent, rows, new = self.propose()
        gain = self.deltas(parent, rows, new) / self.N**2
        for p in range(self.P):
            mine = np.flatnonzero((parent == p) & (gain < 0))
            if mine.size == 0:
                continue
            mine = mine[np.argsort(gain[mine], kind="stable")]
            # Greedy set of improving children on disjoint rows.
            used: set[int] = set()
            keep = []
            for c in mine:
                a, b = int(rows[c, 0]), int(rows[c, 1])
                if a in used or b in used:
                    continue
                used.update((a, b))
                keep.append(c)
            best_single = self.f[p] + gain[keep[0]]
            chosen = np.array(keep)
            while True:
                if chosen.size == 1:
                    break
                trial = self.A[p] + self._children_delta(chosen)
                f_trial = self.fitness_of_counts(trial)
                if f_trial < best_single:
                    break
                chosen = chosen[: max(1, chosen.size // 2)]
            self.A[p] += self._children_delta(chosen)
            self.X[p, rows[chosen].ravel()] = new[chosen].reshape(-1, new.shape[2])
            self.f[p] = self.fitness_of_counts(self.A[p])

    def elitism(self) -> None:
        """Replace the worse half of the population by copies of the best members."""
        order = np.argsort(self.f, kind="stable")
        half = self.P // 2
        for worse, better in zip(order[self.P - half :][::-1], order[:half], strict=False):
            if self.f[worse] > self.f[better]:
                self.X[worse] = self.X[better]
                self.A[worse] = self.A[better]
                self.f[worse] = self.f[better]

    def run(
        self,
        max_generations: int,
        *,
        patience: int = 200,
        tol: float = 1e-3,
        floor: float = 0.0,
        progress: Callable[[int], None] | None = None,
    ) -> SearchResult:
        """Evolve for up to ``max_generations``; stop early on a plateau or at ``floor``.

        A plateau: the best fitness improved by less than ``tol`` (relative) over the last
        ``patience`` generations. ``floor``: stop as soon as the best fitness is at or below
        it (e.g. the error the noise alone gives the true data: going lower fits noise).
        """
        history = [float(self.f.min())]
        gen = 0
        stopped = False
        for gen in range(1, max_generations + 1):
            self.step()
            if self.P > 1 and gen % self.refresh == 0:
                self.elitism()
            best = float(self.f.min())
            history.append(best)
            if progress is not None and gen % 50 == 0:
                progress(gen)
            if best <= floor:
                stopped = True
                break
            if gen >= patience:
                before = history[gen - patience]
                if before - best <= tol * before or best == 0.0:
                    stopped = True
                    break
        b = self.best_index
        return SearchResult(self.X[b].copy(), float(self.f[b]), gen, stopped)
