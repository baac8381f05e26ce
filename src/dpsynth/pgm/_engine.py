"""Calibrated sum-product belief propagation on a junction tree, in numpy.

The model is ``P(x) ∝ exp(Σ_c θ_c(x_c))`` with log-potentials ``θ_c`` on small cliques
``c``. Each maximal clique ``C`` of the junction tree collects the potentials it contains
(McKenna et al. 2019, Sec. 4.1). One call of :meth:`BeliefPropagation.run` computes every
requested marginal exactly with two sweeps over the tree (HUGIN architecture, Koller &
Friedman Alg. 10.3), in log space where it matters:

* collect (leaves to roots): the clique's log-belief ``b_C`` = its potentials plus its
  children's log-messages is shifted by ``m(s)``, an upper bound of its maximum on each
  separator slice ``s`` (the log-sum-exp trick), and exponentiated once:
  ``E_C = exp(b_C − m)``; the message to the parent is ``log Σ_{C∖S} E_C + m``.
* distribute (roots to leaves): with ``t`` the parent's calibrated marginal on the
  separator and ``s = Σ_{C∖S} E_C``, the clique's calibrated marginal is ``E_C · t / s``
  (HUGIN's update, new message ÷ old message, done in linear space).

Mostly small projections of ``E_C`` are needed: every marginal the estimator asks for
(measured cliques, separators) is a projection ``R`` of the calibrated table, and since
the update factor ``t / s`` depends on the separator only,
``Σ_{C∖R} E_C·t/s = Σ_{(R∪S)∖R} (t/s) · Σ_{C∖(R∪S)} E_C``. So each clique is swept once
in the collect phase, in cache-sized chunks (build ``b_C`` from broadcast small tables,
exponentiate, accumulate the projections onto every ``R ∪ S``), and the rest happens on
small tables. Only when some ``R ∪ S`` is the whole clique is ``E_C`` kept, and read once
more (times ``t/s``) after the distribute step.

A child's message travels as its linear separator sums ``s`` times ``exp`` of its small
shift tables; the parent multiplies ``s`` in after exponentiating (sparing a logarithm
over the separator) and folds small log terms into such a factor when it spans them
(one pass over the clique fewer). When all of a clique's log terms are small beside it (a
clique made by fill-in, whose potentials are measured sub-cliques), each is exponentiated on
its own and the clique is built as their product: a multiplication per cell instead of an
exponential, which costs an order of magnitude more.

The shift ``m`` is the sum of the terms' maxima on each slice (computed on the small
tables, no pass over the clique); it bounds the true maximum, so nothing overflows, and
if a slice's sum comes out so small that precision could suffer the clique is redone with
its exact maximum.

Each clique keeps its axes sorted by increasing size (numpy's broadcasting inner loops
are fast only along a long last axis); small tables are transposed into that order once
per use. The structure (routing, axis orders, chunks, projection plans, schedule) is
computed once per model structure and reused by every iteration of the estimator.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from dpsynth.pgm._domain import Clique, Domain
from dpsynth.pgm._junction import JunctionTree

# Chunk size (cells) for a sweep over a clique: 1 MB of float64 stays in L2 cache while
# the chunk is built, exponentiated and projected.
_CHUNK = 1 << 17
# Below this separator sum the bound-shifted exponentials may have lost precision; the
# clique is then recomputed with its exact maximum (rare: extreme potentials only).
_TINY = 1e-250
# Sweeps over at least this many chunks are split between worker threads (numpy releases
# the GIL in its loops); DPSYNTH_PGM_THREADS sets their number (default: up to 4 cores).
_PARALLEL_CHUNKS = 4
_THREADS = max(1, min(4, int(os.environ.get("DPSYNTH_PGM_THREADS", "0")) or (os.cpu_count() or 1)))
_POOL: ThreadPoolExecutor | None = None
_POOL_PID = 0
# Small terms are added together before broadcasting over the clique while their union
# stays below this fraction of the clique (saves passes over the clique).
_MERGE = 1 / 8
# When a clique's log terms together hold at most this fraction of its cells, they are
# exponentiated apart and multiplied over the clique (no exponential per cell).
_EXP_APART = 1 / 4

Key = frozenset[str]
Table = tuple[np.ndarray, tuple[str, ...]]  # a compact table and the order of its axes
Message = tuple[Table, list[Table]]  # linear separator sums and log-space shifts


_LOCAL = threading.local()


def _pool() -> ThreadPoolExecutor:
    """The worker threads (created on first use, and anew in a forked child process)."""
    global _POOL, _POOL_PID
    if _POOL is None or _POOL_PID != os.getpid():
        _POOL = ThreadPoolExecutor(
            max_workers=max(1, _THREADS - 1), thread_name_prefix="dpsynth-pgm"
        )
        _POOL_PID = os.getpid()
    return _POOL


def _thread_buffer(size: int) -> np.ndarray:
    """A scratch chunk buffer owned by the calling worker thread."""
    buf = getattr(_LOCAL, "buf", None)
    if buf is None or buf.size < size:
        buf = np.empty(size)
        _LOCAL.buf = buf
    return buf


def route(domain: Domain, jt_cliques: Sequence[Clique], clique: Clique) -> int:
    """Index of the smallest junction-tree clique containing ``clique``.

    Raises:
        ValueError: If no junction-tree clique contains it (a bug: the tree was built
            from a superset of the cliques).
    """
    s = set(clique)
    best = -1
    best_size = 0
    for k, cl in enumerate(jt_cliques):
        if s <= set(cl):
            size = domain.size(cl)
            if best < 0 or size < best_size:
                best, best_size = k, size
    if best < 0:
        raise ValueError(f"No junction-tree clique contains {clique}.")
    return best


@functools.lru_cache(maxsize=1 << 16)
def sum_axes(sub: Clique | Key, full: tuple[str, ...]) -> tuple[int, ...]:
    """Axes of a table over ``full`` (or a keepdims table inside it) to sum to reach ``sub``."""
    s = set(sub)
    return tuple(i for i, a in enumerate(full) if a not in s)


def _plan(full: Key, targets: set[Key], sizes: dict[str, int]) -> list[tuple[Key, Key]]:
    """Order in which to compute projections of a table over ``full`` onto ``targets``.

    Each step ``(src, dst)`` sums a computed table down to a smaller one; steps from
    ``full`` itself are the expensive ones. Heuristic: project onto the union of what is
    still needed when that is smaller; otherwise drop the biggest attribute some targets
    do not need, serve those from the smaller table, and repeat for the others.
    """
    steps: list[tuple[Key, Key]] = []
    todo = {t for t in targets if t != full}
    while todo:
        union: Key = frozenset().union(*todo)
        if union != full:
            steps.append((full, union))
            steps += _plan(union, todo, sizes)
            return steps
        drop = max(
            (a for a in full if any(a not in t for t in todo)),
            key=lambda a: (sizes[a], sum(a not in t for t in todo), a),
        )
        smaller = full - {drop}
        served = {t for t in todo if drop not in t}
        steps.append((full, smaller))
        steps += _plan(smaller, served, sizes)
        todo -= served
    return steps


@dataclass
class _Node:
    clique: Clique  # domain order
    order: tuple[str, ...]  # axis order of this clique's tables (increasing size)
    shape: tuple[int, ...]  # in ``order``
    parent: int = -1
    children: list[int] = field(default_factory=list)
    sep: Key = frozenset()
    # Potentials routed here (indices into the potential list).
    pots: list[int] = field(default_factory=list)
    # Projections of E computed in the collect sweep (first-level) then on small tables.
    first: list[Key] = field(default_factory=list)
    steps: list[tuple[Key, Key]] = field(default_factory=list)
    # Marginals whose R ∪ S is the whole clique: read from the stored E after distribute.
    late: set[Key] = field(default_factory=set)
    late_first: list[Key] = field(default_factory=list)
    late_steps: list[tuple[Key, Key]] = field(default_factory=list)
    targets: list[tuple[int, Key]] = field(default_factory=list)
    chunks: list[tuple[slice, ...]] = field(default_factory=list)


class BeliefPropagation:
    """Exact marginals of a log-linear model on a junction tree.

    Args:
        jtree: The junction tree (every potential and target clique must fit in one of
            its cliques).
        potential_cliques: Cliques of the log-potential tables given to :meth:`run`, each
            in domain order.
        targets: Cliques whose marginals :meth:`run` returns, each in domain order.
    """

    def __init__(
        self, jtree: JunctionTree, potential_cliques: Sequence[Clique], targets: Sequence[Clique]
    ) -> None:
        dom = jtree.domain
        self.domain = dom
        self.jtree = jtree
        self.potential_cliques = [tuple(c) for c in potential_cliques]
        self.targets = [tuple(c) for c in targets]
        self.sizes = dict(zip(dom.attrs, dom.shape, strict=True))
        self._perms: dict[
            tuple[tuple[str, ...], tuple[str, ...]], tuple[list[int], tuple[int, ...]]
        ] = {}
        self._kd_memo: dict[tuple[tuple[str, ...], Key], tuple[int, ...]] = {}
        self._compact_memo: dict[
            tuple[tuple[str, ...], Key], tuple[tuple[str, ...], tuple[int, ...]]
        ] = {}
        pos = {a: i for i, a in enumerate(dom.attrs)}
        self.nodes = []
        for c in jtree.cliques:
            order = tuple(sorted(c, key=lambda a: (self.sizes[a], pos[a])))
            self.nodes.append(_Node(tuple(c), order, tuple(self.sizes[a] for a in order)))
        for i, pc in enumerate(self.potential_cliques):
            self.nodes[route(dom, jtree.cliques, pc)].pots.append(i)
        for i, tc in enumerate(self.targets):
            self.nodes[route(dom, jtree.cliques, tc)].targets.append((i, frozenset(tc)))
        self._orient()
        for node in self.nodes:
            self._prepare(node)
        #: Axis order of each target as returned by ``run(..., native=True)``.
        self.target_orders: list[tuple[str, ...]] = [()] * len(self.targets)
        for node in self.nodes:
            for i, key in node.targets:
                self.target_orders[i] = tuple(a for a in node.order if a in key)
        # Cliques with marginals that need the whole table keep E between the sweeps.
        self._store = {k: np.empty(node.shape) for k, node in enumerate(self.nodes) if node.late}
        biggest = max((math.prod(n.shape) for n in self.nodes), default=1)
        self._buf = np.empty(max(1, min(biggest, 4 * _CHUNK)))

    def _orient(self) -> None:
        """Root each tree of the forest; list the cliques parents before children.

        The root is chosen to minimise the cells swept per run: a clique is swept twice
        when some marginal wanted from it, joined with its separator, is the whole clique
        (the root has an empty separator, so it is never swept twice).
        """
        nbrs = self.jtree.neighbors()
        n = len(self.nodes)
        sets = [frozenset(node.clique) for node in self.nodes]
        cells = [math.prod(node.shape) for node in self.nodes]
        wants = [{t for _, t in node.targets} for node in self.nodes]

        def bfs(root: int) -> tuple[list[int], list[int]]:
            parent = [-1] * n
            order = [root]
            seen = {root}
            for k in order:
                for j in nbrs[k]:
                    if j not in seen:
                        seen.add(j)
                        parent[j] = k
                        order.append(j)
            return order, parent

        def cost(root: int) -> int:
            order, parent = bfs(root)
            total = 0
            for k in order:
                sep = sets[k] & sets[parent[k]] if parent[k] >= 0 else frozenset()
                wanted = wants[k] | {sets[j] & sets[k] for j in nbrs[k] if parent[j] == k}
                total += cells[k] * (
                    2 if any(r | sep == sets[k] and r != sets[k] for r in wanted) else 1
                )
            return total

        self.preorder: list[int] = []
        done: set[int] = set()
        for start in range(n):
            if start in done:
                continue
            component, _ = bfs(start)
            root = min(component, key=lambda k: (cost(k), -cells[k], k))
            order, parent = bfs(root)
            done.update(order)
            self.preorder += order
            for k in order:
                self.nodes[k].parent = parent[k]
                if parent[k] >= 0:
                    self.nodes[parent[k]].children.append(k)
        for node in self.nodes:
            if node.parent >= 0:
                node.sep = frozenset(node.clique) & frozenset(self.nodes[node.parent].clique)

    def _prepare(self, node: _Node) -> None:
        full = frozenset(node.clique)
        sizes = self.sizes
        wanted = {t for _, t in node.targets} | {self.nodes[c].sep for c in node.children}
        early = {r | node.sep for r in wanted} | {node.sep}
        late = {r for r in wanted if r | node.sep == full}
        early.discard(full)
        node.steps = _plan(full, early, sizes)
        node.first = sorted({dst for src, dst in node.steps if src == full}, key=sorted)
        node.late = late
        node.late_steps = _plan(full, late, sizes) if late else []
        node.late_first = sorted(
            {dst for src, dst in node.late_steps if src == full} | (late & {full}), key=sorted
        )
        # Chunks: slices over the leading axes, at most _CHUNK cells each.
        shape = node.shape
        p = 0
        while p < len(shape) and math.prod(shape[p:]) > _CHUNK:
            p += 1
        if p == 0:
            node.chunks = [()]
            return
        step = max(1, _CHUNK // math.prod(shape[p:]))
        chunks: list[tuple[slice, ...]] = []
        for head in np.ndindex(*shape[: p - 1]):
            for j in range(0, shape[p - 1], step):
                chunks.append(
                    (*(slice(h, h + 1) for h in head), slice(j, min(j + step, shape[p - 1])))
                )
        node.chunks = chunks

    # -- layout helpers ---------------------------------------------------------------------
    def _kd(self, node: _Node, key: Key) -> tuple[int, ...]:
        """Keepdims shape of a table over ``key`` inside the node's clique."""
        got = self._kd_memo.get((node.order, key))
        if got is None:
            got = tuple(d if a in key else 1 for a, d in zip(node.order, node.shape, strict=True))
            self._kd_memo[(node.order, key)] = got
        return got

    def _align(self, node: _Node, arr: np.ndarray, order: tuple[str, ...]) -> np.ndarray:
        """A compact table with axes ``order`` as a keepdims table in the node's layout."""
        got = self._perms.get((order, node.order))
        if got is None:
            inside = set(order)
            sub = [a for a in node.order if a in inside]
            got = ([order.index(a) for a in sub], self._kd(node, frozenset(order)))
            self._perms[(order, node.order)] = got
        perm, kd = got
        if perm != sorted(perm):
            arr = arr.reshape(tuple(self.sizes[a] for a in order)).transpose(perm)
        return arr.reshape(kd)

    def _compact(self, node: _Node, arr: np.ndarray, key: Key) -> Table:
        """A keepdims table of the node as a compact table and its axis order."""
        got = self._compact_memo.get((node.order, key))
        if got is None:
            order = tuple(a for a in node.order if a in key)
            got = (order, tuple(self.sizes[a] for a in order))
            self._compact_memo[(node.order, key)] = got
        return arr.reshape(got[1]), got[0]

    def _axes(self, node: _Node, src: Key, dst: Key) -> tuple[int, ...]:
        return tuple(i for i, a in enumerate(node.order) if a in src and a not in dst)

    # -- the sweeps -------------------------------------------------------------------------
    def _terms(
        self, node: _Node, potentials: Sequence[np.ndarray], up: list[Message | None]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The clique's log-belief terms and linear factors, as keepdims tables.

        Log terms (potentials, the children's message shifts, small child messages) are
        folded into the smallest term containing them, then small ones merged. A big
        child message stays a linear factor, multiplied in after exponentiation, which
        spares a logarithm and an alignment of a separator-sized table.
        """
        sources: list[tuple[Key, np.ndarray]] = []
        for i in node.pots:
            pc = self.potential_cliques[i]
            sources.append((frozenset(pc), self._align(node, potentials[i], pc)))
        factors = []
        limit = _MERGE * math.prod(node.shape)
        for c in node.children:
            msg = up[c]
            assert msg is not None
            for arr, order in msg[1]:
                sources.append((frozenset(order), self._align(node, arr, order)))
            s = self._align(node, *msg[0])
            if s.size <= limit:
                sources.append((self.nodes[c].sep, np.log(s)))
            else:
                factors.append(s)
        sources.sort(key=lambda kv: -kv[1].size)
        leaders: list[tuple[Key, np.ndarray]] = []
        for key, arr in sources:
            homes = [j for j, (lk, _) in enumerate(leaders) if key <= lk]
            if homes:
                j = min(homes, key=lambda j: leaders[j][1].size)
                leaders[j] = (leaders[j][0], leaders[j][1] + arr)
            else:
                leaders.append((key, arr))
        return self._merge(node, [arr for _, arr in leaders]), factors

    def _merge(self, node: _Node, terms: list[np.ndarray]) -> list[np.ndarray]:
        """Add small terms together while their union stays small (fewer big passes)."""
        terms = list(terms)
        limit = _MERGE * math.prod(node.shape)
        while len(terms) > 2:
            best: tuple[int, int, int] | None = None
            for i in range(len(terms)):
                for j in range(i + 1, len(terms)):
                    cells = math.prod(
                        max(a, b) for a, b in zip(terms[i].shape, terms[j].shape, strict=True)
                    )
                    if best is None or cells < best[0]:
                        best = (cells, i, j)
            assert best is not None
            cells, i, j = best
            if cells > limit:
                break
            merged = terms[i] + terms[j]
            terms = [t for k, t in enumerate(terms) if k not in (i, j)] + [merged]
        return terms

    def _sweep(
        self,
        node: _Node,
        terms: Sequence[np.ndarray],
        outs: Sequence[tuple[Key, np.ndarray]],
        *,
        factors: Sequence[np.ndarray] = (),
        exp: bool = True,
        reduce_max: bool = False,
        store: np.ndarray | None = None,
        source: np.ndarray | None = None,
    ) -> None:
        """One chunked pass: build Σ terms, exponentiate, accumulate projections into outs.

        ``outs`` hold zeroed keepdims tables. ``factors`` (keepdims tables) multiply the
        exponentiated chunk. The chunk is written into ``store`` if given; with ``source``
        it is read from there (times the factors) instead of being built. With
        ``reduce_max`` (and no ``exp``) the projections take maxima of the log-belief
        instead of sums (``outs`` then start at -inf). Long sweeps are split between
        threads, each accumulating into its own copy of the outputs that several chunks
        add into.
        """
        chunks = node.chunks
        if _THREADS == 1 or len(chunks) < _PARALLEL_CHUNKS:
            self._sweep_chunks(
                node, chunks, terms, factors, outs, exp, reduce_max, self._buf, store, source
            )
            return
        nthreads = min(_THREADS, len(chunks))
        p = len(chunks[0])
        parts: list[list[tuple[Key, np.ndarray]]] = []
        for w in range(nthreads):
            mine = []
            for key, o in outs:
                # Outputs spanning every chunked axis get disjoint writes: share them.
                shared = w == 0 or all(
                    d > 1 or full == 1 for d, full in zip(o.shape[:p], node.shape[:p], strict=True)
                )
                mine.append((key, o if shared else np.full_like(o, -np.inf if reduce_max else 0.0)))
            parts.append(mine)
        bounds = [len(chunks) * w // nthreads for w in range(nthreads + 1)]
        pool = _pool()
        futures = [
            pool.submit(
                self._sweep_chunks,
                node,
                chunks[bounds[w] : bounds[w + 1]],
                terms,
                factors,
                parts[w],
                exp,
                reduce_max,
                self._buf.size,
                store,
                source,
            )
            for w in range(1, nthreads)
        ]
        self._sweep_chunks(
            node,
            chunks[bounds[0] : bounds[1]],
            terms,
            factors,
            parts[0],
            exp,
            reduce_max,
            self._buf,
            store,
            source,
        )
        for f in futures:
            f.result()
        for w in range(1, nthreads):
            for (_, o), (_, private) in zip(outs, parts[w], strict=True):
                if private is not o:
                    if reduce_max:
                        np.maximum(o, private, out=o)
                    else:
                        o += private

    @staticmethod
    def _sweep_chunks(
        node: _Node,
        chunks: Sequence[tuple[slice, ...]],
        terms: Sequence[np.ndarray],
        factors: Sequence[np.ndarray],
        outs: Sequence[tuple[Key, np.ndarray]],
        exp: bool,
        reduce_max: bool,
        buf: np.ndarray | int,
        store: np.ndarray | None,
        source: np.ndarray | None,
    ) -> None:
        if isinstance(buf, int):
            buf = _thread_buffer(buf)  # in a worker thread: its own scratch buffer
        shape = node.shape
        term_masks = [tuple(d > 1 for d in t.shape) for t in terms]
        out_specs = [(o, tuple(d > 1 for d in o.shape), sum_axes(k, node.order)) for k, o in outs]
        factor_masks = [tuple(d > 1 for d in f.shape) for f in factors]
        for ch in chunks:
            cshape = tuple(s.stop - s.start for s in ch) + shape[len(ch) :]
            fparts = [
                f[tuple(s if m else slice(None) for s, m in zip(ch, mask, strict=False))]
                for f, mask in zip(factors, factor_masks, strict=True)
            ]
            if source is not None:
                view = source[ch]
                if fparts:
                    view = np.multiply(
                        view, fparts[0], out=buf[: math.prod(cshape)].reshape(cshape)
                    )
                    for f in fparts[1:]:
                        view *= f
            else:
                view = store[ch] if store is not None else buf[: math.prod(cshape)].reshape(cshape)
                parts = [
                    t[tuple(s if m else slice(None) for s, m in zip(ch, mask, strict=False))]
                    for t, mask in zip(terms, term_masks, strict=True)
                ]
                if not parts and exp and fparts:
                    # Only linear factors: their product is the exponentiated chunk.
                    if len(fparts) == 1:
                        np.copyto(view, fparts[0])
                    else:
                        np.multiply(fparts[0], fparts[1], out=view)
                        for f in fparts[2:]:
                            view *= f
                else:
                    if not parts:
                        view.fill(0.0)
                    elif len(parts) == 1:
                        np.copyto(view, parts[0])
                    else:
                        np.add(parts[0], parts[1], out=view)
                        for p in parts[2:]:
                            view += p
                    if exp:
                        np.exp(view, out=view)
                    for f in fparts:
                        view *= f
            for o, mask, all_axes in out_specs:
                idx = tuple(s if m else slice(None) for s, m in zip(ch, mask, strict=False))
                # Axes of which the chunk holds a single index need no reduction.
                axes = tuple(i for i in all_axes if cshape[i] > 1)
                if reduce_max:
                    part = view.max(axis=axes, keepdims=True) if axes else view
                    np.maximum(o[idx], part, out=o[idx])
                else:
                    o[idx] += view.sum(axis=axes, keepdims=True) if axes else view

    def _normalise(
        self, node: _Node, terms: list[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Shift each term by its own maximum on each separator slice.

        Returns the shifted terms and the shifts (keepdims tables over each term's part of
        the separator): their sum bounds the log-belief's maximum on every slice, so the
        exponentials never overflow, and travels up with the message.
        """
        free = sum_axes(node.sep, node.order)
        shifted = []
        shifts = []
        for t in terms:
            axes = tuple(i for i in free if t.shape[i] > 1)
            m = t.max(axis=axes, keepdims=True) if axes else t
            shifted.append(t - m)
            shifts.append(m)
        return shifted, shifts

    @staticmethod
    def _with_shift(terms: list[np.ndarray], shift: np.ndarray) -> list[np.ndarray]:
        """Subtract the shift inside a term that already spans the separator, if any."""
        out = list(terms)
        sep_dims = tuple(d > 1 for d in shift.shape)
        for i, t in enumerate(out):
            if all(td > 1 or not sd for td, sd in zip(t.shape, sep_dims, strict=True)):
                out[i] = t - shift
                return out
        out.append(-shift)
        return out

    def _derive(
        self, node: _Node, tables: dict[Key, np.ndarray], steps: list[tuple[Key, Key]]
    ) -> None:
        """Run the small-table steps of a projection plan (sources already in ``tables``)."""
        full = frozenset(node.clique)
        for src, dst in steps:
            if src != full and dst not in tables:
                tables[dst] = tables[src].sum(axis=self._axes(node, src, dst), keepdims=True)

    def _collect(
        self,
        node: _Node,
        potentials: Sequence[np.ndarray],
        up: list[Message | None],
        store: np.ndarray | None,
    ) -> tuple[dict[Key, np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Sweep the clique: E-projections, shifted terms, linear factors and shifts."""
        terms, factors = self._terms(node, potentials, up)
        shifted, shifts = self._normalise(node, terms)
        used = self._fold_into_factors(node, shifted, factors)
        for attempt in range(2):
            if attempt == 1:
                # Precision guard: redo with the exact maximum (one extra pass).
                logs = terms + [np.log(f) for f in factors]
                exact = np.full(self._kd(node, node.sep), -np.inf)
                self._sweep(node, logs, [(node.sep, exact)], exp=False, reduce_max=True)
                used = (self._with_shift(logs, exact), [])
                shifts = [exact]
            proj = {k: np.zeros(self._kd(node, k)) for k in node.first}
            self._sweep(node, used[0], list(proj.items()), factors=used[1], store=store)
            self._derive(node, proj, node.steps)
            if float(proj[node.sep].min()) >= _TINY:
                break
        return proj, used[0], used[1], shifts

    def _fold_into_factors(
        self, node: _Node, terms: list[np.ndarray], factors: list[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Move log terms spanned by a (much smaller) linear factor into it.

        exp(t) times the factor costs an exponentiation of the factor's size and saves an
        addition over the whole clique. At least one log term is kept, unless all of them
        are small beside the clique: then each is exponentiated and becomes a factor (or
        joins one), and the sweep multiplies instead of exponentiating.
        """
        cells = math.prod(node.shape)
        limit = cells // 4
        # Each (shifted) term is at most 0, so no exponentiated term overflows, and a
        # product underflows only where exp(Σ) would.
        all_small = bool(terms) and sum(t.size for t in terms) <= _EXP_APART * cells
        if not all_small and (not factors or len(terms) < 2):
            return terms, factors
        kept: list[np.ndarray] = []
        out = list(factors)
        for i, t in enumerate(terms):
            left = len(terms) - i - 1
            home = next(
                (
                    j
                    for j, f in enumerate(out)
                    if f.size <= limit
                    and all(fd > 1 or td == 1 for fd, td in zip(f.shape, t.shape, strict=True))
                ),
                None,
            )
            if home is not None and (all_small or kept or left):
                out[home] = out[home] * np.exp(t)
            elif all_small:
                out.append(np.exp(t))
            else:
                kept.append(t)
        return kept, out

    def run(
        self,
        potentials: Sequence[np.ndarray],
        total: float,
        *,
        keep: bool = False,
        native: bool = False,
    ) -> list[np.ndarray]:
        """Marginal counts of the targets (tables summing to ``total``).

        Args:
            potentials: One log-potential table per potential clique (n-d, domain order).
            total: The number of records the marginals sum to.
            keep: Also return the maximal cliques' calibrated marginals (appended after the
                targets, axes in domain order), for the final model.
            native: Return the targets with their axes in :attr:`target_orders` (no
                transposes; the estimator aligns its data once) instead of domain order.

        Returns:
            The targets' marginals (then, with ``keep``, the cliques' marginals).
        """
        nodes = self.nodes
        n = len(nodes)
        up: list[Message | None] = [None] * n
        proj: list[dict[Key, np.ndarray]] = [{} for _ in nodes]
        shifted: list[list[np.ndarray]] = [[] for _ in nodes]
        factors: list[list[np.ndarray]] = [[] for _ in nodes]
        calibrated: list[dict[Key, np.ndarray]] = [{} for _ in nodes]
        ratios: list[np.ndarray] = [np.empty(0)] * n
        out: list[np.ndarray] = [np.empty(0)] * len(self.targets)
        with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
            for k in reversed(self.preorder):
                node = nodes[k]
                proj[k], shifted[k], factors[k], shifts = self._collect(
                    node, potentials, up, self._store.get(k)
                )
                if node.parent >= 0:
                    # The message is s · exp(Σ shifts): s linear, the shifts in log space.
                    up[k] = (
                        self._compact(node, proj[k][node.sep], node.sep),
                        [
                            self._compact(
                                node,
                                m,
                                frozenset(
                                    a for a, d in zip(node.order, m.shape, strict=True) if d > 1
                                ),
                            )
                            for m in shifts
                        ],
                    )
            for k in self.preorder:
                node = nodes[k]
                if node.parent < 0:
                    t: np.ndarray = np.asarray(float(total))
                else:
                    parent = nodes[node.parent]
                    pt = self._marginal(
                        parent,
                        proj[node.parent],
                        calibrated[node.parent],
                        ratios[node.parent],
                        node.sep,
                    )
                    t = self._align(node, *self._compact(parent, pt, node.sep))
                ratios[k] = t / proj[k][node.sep]
                if node.late:
                    late = {key: np.zeros(self._kd(node, key)) for key in node.late_first}
                    self._sweep(
                        node, [], list(late.items()), factors=[ratios[k]], source=self._store[k]
                    )
                    self._derive(node, late, node.late_steps)
                    calibrated[k].update((key, late[key]) for key in node.late)
                for i, key in node.targets:
                    m = self._marginal(node, proj[k], calibrated[k], ratios[k], key)
                    out[i] = (
                        self._compact(node, m, key)[0]
                        if native
                        else self._to_domain(node, m, key, self.targets[i])
                    )
            if keep:
                for k, node in enumerate(nodes):
                    table = np.zeros(node.shape)
                    full = frozenset(node.clique)
                    if k in self._store:
                        self._sweep(
                            node, [], [(full, table)], factors=[ratios[k]], source=self._store[k]
                        )
                    else:
                        self._sweep(
                            node, shifted[k], [(full, table)], factors=[*factors[k], ratios[k]]
                        )
                    out.append(self._to_domain(node, table, full, node.clique))
        return out

    def _to_domain(self, node: _Node, arr: np.ndarray, key: Key, clique: Clique) -> np.ndarray:
        """A keepdims table of the node as a C-ordered table with axes in ``clique`` order."""
        compact, order = self._compact(node, arr, key)
        if order == clique:
            return compact
        return np.array(compact.transpose([order.index(a) for a in clique]), order="C")

    def _marginal(
        self,
        node: _Node,
        proj: dict[Key, np.ndarray],
        calibrated: dict[Key, np.ndarray],
        ratio: np.ndarray,
        key: Key,
    ) -> np.ndarray:
        """Calibrated marginal over ``key`` (keepdims in the node's layout), memoised."""
        got = calibrated.get(key)
        if got is not None:
            return got
        ext = key | node.sep
        table = calibrated.get(ext)
        if table is None:
            table = proj[ext] * ratio
            calibrated[ext] = table
        if ext != key:
            table = table.sum(axis=self._axes(node, ext, key), keepdims=True)
            calibrated[key] = table
        return table
