"""Text as it arrives from outside, made storable: JSON may carry lone UTF-16 surrogates
("\\ud800") that no database or SMS can encode."""

from __future__ import annotations


def well_formed(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (a well-formed pair is kept as the
    character it makes); unchanged when it has none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
