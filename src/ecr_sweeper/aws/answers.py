"""A success status is not enough: the body must be the operation's answer.

A proxy, a load balancer or a captive portal can answer 200 with an HTML page. botocore reads
that as an empty answer (`{}`: "no functions", "no schedules", "no regions"), which protects
nothing. Every client of the run refuses such an answer instead:

* ECS and ECR (aws/wire.py) and the botocore clients made in aws/session.py, through
  `guard_answers`, a `before-parse` handler on the client's event system, which raises before
  botocore's parser sees the body;
* the JSON protocols (`json`, `rest-json`): the body must be a JSON object, or empty where the
  output has no member in the body;
* the XML protocols (`query`, `ec2`): the body must be XML whose root is `<OperationResponse>`.

The error is a `ClientError` (code `MalformedAnswer`, the HTTP status and a body excerpt), so
it is reported, and blocks what it should, like any other failed call; it is not retried.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from botocore.exceptions import ClientError
from botocore.model import OperationModel

from ecr_sweeper.words import one_line

MALFORMED = "MalformedAnswer"
_JSON_PROTOCOLS = frozenset({"json", "rest-json"})
_XML_PROTOCOLS = frozenset({"query", "ec2"})


class MalformedAnswerError(ClientError):
    """A success status whose body is not the operation's answer."""

    def __init__(
        self, status: int, headers: dict[str, str], body: bytes, operation: str, why: str
    ) -> None:
        excerpt = one_line(body[:4096].decode("utf-8", "replace"))
        response: Any = {
            "Error": {"Code": MALFORMED, "Message": f"HTTP {status} answer {why}: {excerpt!r}"},
            "ResponseMetadata": {
                "RequestId": headers.get("x-amzn-requestid", ""),
                "HTTPStatusCode": status,
                "HTTPHeaders": headers,
            },
        }
        super().__init__(response, operation)


def body_members(operation: OperationModel) -> bool:
    """Whether the operation's answer has members in its body (an empty body then is wrong)."""
    shape: Any = operation.output_shape
    if shape is None:
        return False
    return any("location" not in m.serialization for m in shape.members.values())


def answer_problem(protocol: str, operation: OperationModel, body: bytes) -> str | None:
    """Why `body` is not an answer of `operation` in `protocol`, or None (it may be; the parser
    judges the rest). Protocols this module does not know are not judged."""
    if protocol in _JSON_PROTOCOLS:
        if not body.strip():
            return "with an empty body" if body_members(operation) else None
        try:
            answer = json.loads(body)
        except ValueError:
            return "that is not JSON"
        return None if isinstance(answer, dict) else "that is not a JSON object"
    if protocol in _XML_PROTOCOLS:
        try:
            root = ET.fromstring(body)  # noqa: S314 - an AWS answer; expat expands no external entities
        except ET.ParseError:
            return "that is not XML"
        if root.tag.rpartition("}")[2] != f"{operation.name}Response":
            return f"whose root is not <{operation.name}Response>"
    return None


def _refuse_malformed(operation_model: OperationModel, response_dict: Any, **_: Any) -> None:
    status = int(response_dict.get("status_code", 0))
    if not 200 <= status < 300 or operation_model.has_streaming_output:
        return
    body = response_dict.get("body") or b""
    protocol = operation_model.service_model.resolved_protocol
    why = answer_problem(protocol, operation_model, body if isinstance(body, bytes) else b"")
    if why is not None:
        headers = {k.lower(): v for k, v in dict(response_dict.get("headers", {})).items()}
        raise MalformedAnswerError(status, headers, body, operation_model.name, why)


def guard_answers(client: Any) -> Any:
    """Make a botocore client refuse a success answer that is not its operation's; returns it."""
    client.meta.events.register("before-parse", _refuse_malformed, unique_id="ecr-sweeper-answers")
    return client
