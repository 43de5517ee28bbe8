"""Wire-protocol helpers: SigV4 scope parsing, AWS error shapes, page tokens and page sizes.

Protocols as botocore 1.40 uses them (see ``metadata.protocol`` in botocore's service models):

* ECS, ECR, Organizations: ``json`` 1.1 -- POST /, ``X-Amz-Target: <prefix>.<Op>``, errors are
  HTTP 4xx/5xx with body ``{"__type": "<Code>", "message": "..."}``.
* STS: ``query`` -- form-encoded ``Action=...&Version=2011-06-15``, XML answers in the
  ``https://sts.amazonaws.com/doc/2011-06-15/`` namespace, errors as ``<ErrorResponse>``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from .quotas import PAGE_LIMITS

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

TARGET_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "AWSOrganizationsV20161128": "organizations",
    "AppRunner": "apprunner",
}

_CRED_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True, slots=True)
class SigV4Scope:
    access_key_id: str
    date: str
    region: str
    service: str


def parse_authorization(header: str | None) -> SigV4Scope | None:
    """Pull the credential scope out of ``Authorization: AWS4-HMAC-SHA256 Credential=...``.

    Signatures are deliberately not verified: the emulator only needs to know *who* calls.
    """
    if not header:
        return None
    m = _CRED_RE.search(header)
    return SigV4Scope(*m.groups()) if m else None


class AwsError(Exception):
    """An error answered in the calling protocol's native error shape."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def request_id() -> str:
    return str(uuid.uuid4())


def json_error_body(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


def xml_error_body(code: str, message: str, status: int) -> bytes:
    kind = "Sender" if status < 500 else "Receiver"
    return (
        f'<ErrorResponse xmlns="{STS_NS}">\n  <Error>\n    <Type>{kind}</Type>\n'
        f"    <Code>{escape(code)}</Code>\n    <Message>{escape(message)}</Message>\n  </Error>\n"
        f"  <RequestId>{request_id()}</RequestId>\n</ErrorResponse>\n"
    ).encode()


def xml_response(action: str, result_xml: str) -> bytes:
    return (
        f'<{action}Response xmlns="{STS_NS}">\n'
        f"  <{action}Result>\n{result_xml}  </{action}Result>\n"
        f"  <ResponseMetadata>\n    <RequestId>{request_id()}</RequestId>\n  </ResponseMetadata>\n"
        f"</{action}Response>\n"
    ).encode()


# --------------------------------------------------------------------------- pagination


def encode_token(kind: str, key: Any) -> str:
    """Opaque page token; ``kind`` stops a token of one listing being used for another."""
    raw = json.dumps([kind, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(
    kind: str, token: str | None, error_code: str = "InvalidParameterException"
) -> Any:
    if token is None:
        return None
    try:
        got_kind, key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):  # bad base64, JSON or shape
        raise AwsError(error_code, "Invalid NextToken") from None
    if got_kind != kind:
        raise AwsError(error_code, "Invalid NextToken")
    return key


def page_size(op_key: str, requested: Any, error_code: str = "InvalidParameterException") -> int:
    """Validate ``maxResults`` against the real range and apply the real default."""
    default, maximum = PAGE_LIMITS[op_key]
    if requested is None:
        return default
    if not isinstance(requested, int) or requested < 1 or requested > maximum:
        raise AwsError(
            error_code,
            f"1 validation error detected: Value '{requested}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {maximum}",
        )
    return requested


def page_sorted(
    items: list[str], token: str | None, size: int, kind: str
) -> tuple[list[str], str | None]:
    """Page through a sorted list of unique strings; the token carries the last key returned,
    so items added or removed between pages neither repeat nor shift the listing."""
    import bisect

    last = decode_token(kind, token)
    start = bisect.bisect_right(items, last) if last is not None else 0
    page = items[start : start + size]
    more = start + size < len(items)
    return page, (encode_token(kind, page[-1]) if more and page else None)
