"""Counted nouns for messages: "1 cluster", "2 clusters" (never "1 clusters")."""

from __future__ import annotations

_SINGULAR = {"families": "family", "repositories": "repository", "buses": "bus"}


def plural(count: int, noun: str) -> str:
    """`count` and `noun` (given in the plural), singular when `count` is 1."""
    if count != 1:
        return f"{count} {noun}"
    *head, last = noun.split(" ")
    last = _SINGULAR.get(last, last[:-1] if last.endswith("s") else last)
    return f"{count} {' '.join([*head, last])}"
