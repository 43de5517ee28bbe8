"""Words for messages: counted nouns ("1 cluster", "2 clusters", never "1 clusters"), and
the text of an answer's body as one line."""

from __future__ import annotations

import re

_SINGULAR = {"families": "family", "repositories": "repository", "buses": "bus"}


def plural(count: int, noun: str) -> str:
    """`count` and `noun` (given in the plural), singular when `count` is 1."""
    if count != 1:
        return f"{count} {noun}"
    *head, last = noun.split(" ")
    last = _SINGULAR.get(last, last[:-1] if last.endswith("s") else last)
    return f"{count} {' '.join([*head, last])}"


# An answer's body quoted in a message: one line, no markup, cut. A server's HTML page (a
# proxy's, a load balancer's, moto's 500) says what it is in its <title>; its <h1> would
# become a heading in GitLab's report.md, and its lines would break a CI log's.
BODY_LIMIT = 400  # an AWS message with two ARNs fits; a page does not
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_BLOCKS = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[!/?]?[A-Za-z][^<>]*>")
_HTML = re.compile(r"<(!doctype|html|head|body|title|h[1-6]|p|pre|center)\b", re.IGNORECASE)


def one_line(text: str, limit: int = BODY_LIMIT) -> str:
    """`text` as one line of at most `limit` characters (… marks a cut). An HTML page in it
    (from its first tag on) is its <title>, else its text without tags."""
    if page := _HTML.search(text):
        head, html = text[: page.start()], text[page.start() :]
        title = _TITLE.search(html)
        text = head + (title.group(1) if title else _TAG.sub(" ", _BLOCKS.sub(" ", html)))
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
