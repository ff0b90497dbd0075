"""Reference numbers a person can read out on the phone: no 0/O, 1/I/L."""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference(prefix: str, length: int = 6) -> str:
    """e.g. "D-7K3QZP" for a dispute, "V-..." for a validation request."""
    return f"{prefix}-" + "".join(secrets.choice(ALPHABET) for _ in range(length))
