"""Rasa SDK actions: thin entry points that read the tracker, call a `bot` service inside one
transaction, and dispatch responses by name (the wording lives in domain.yml)."""
