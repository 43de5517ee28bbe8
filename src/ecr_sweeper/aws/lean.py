"""Every other AWS call a sweep makes, without botocore's per-call machinery.

wire.py sends the ECS and ECR calls (tens of thousands a run) with its own AWS JSON 1.1
serializer and parser. The other services' calls (the census and the readers of Batch, Step
Functions, CodeBuild, SageMaker, EMR Serverless, Pipes, App Runner, EKS, Lambda, EventBridge,
Scheduler, Lightsail, Beanstalk, EC2's DescribeRegions…) are few per account × region but
many per run, in every protocol AWS has (JSON, REST-JSON, query, EC2). Through a botocore
client each costs ~1.6 ms of CPU, most of it in the event system (~20 hooks), endpoint rules
and user-agent assembly (measured on the benchmark; a census call cost more than the HTTP
round trip of four ECS calls).

`LeanOperation` keeps what decides the wire format and drops the rest:

* the request is botocore's own: its serializer for the service's protocol, then its
  request-dict preparation, against the endpoint URL the shared client resolved (operations
  whose endpoint depends on their input, a host prefix, are refused here: see `lean_enough`);
* it is signed with botocore's SigV4 signer, as the account (`credentials`);
* it is sent through the shared client's HTTP session (pool, TLS, proxies, timeouts), by
  transport.py, which maps transport errors to botocore's exceptions as aiobotocore does;
* a success answer must be the operation's (answers.py), then botocore's parser for the
  protocol reads it by the output shape; an error answer raises botocore's `ClientError`
  with the code, message and status botocore gives.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import ResponseParser, create_parser
from botocore.serialize import create_serializer

from ecr_sweeper.aws.answers import MalformedAnswerError, answer_problem
from ecr_sweeper.aws.transport import Poster
from ecr_sweeper.aws.wire import USER_AGENT


def lean_enough(operation: OperationModel) -> bool:
    """Whether `operation` can be sent this way: no streaming, no event stream, no input
    that decides the endpoint (a host prefix, endpoint rule parameters), no checksum or
    compression to add."""
    return not (
        operation.has_streaming_input
        or operation.has_streaming_output
        or operation.has_event_stream_output
        or operation.endpoint  # {"hostPrefix": …}
        or operation.context_parameters
        or operation.static_context_parameters
        or operation.http_checksum_required
        or operation.http_checksum
        or operation.request_compression
    )


@cache
def _serializer(protocol: str) -> Any:
    """botocore's request serializer for `protocol` (no parameter validation: our requests
    are fixed in code, and AWS validates them anyway)."""
    return create_serializer(protocol, include_validation=False)


@cache
def _parser(protocol: str) -> ResponseParser:
    return create_parser(protocol)


class LeanOperation:
    """One operation of a shared client, called as one account. Shaped like a botocore client
    method (``__self__`` with ``meta``, ``__name__``) so `Api.rate_for` paces it the same."""

    def __init__(self, owner: Any, name: str, shared: Any, credentials: Any) -> None:
        self.__self__ = owner
        self.__name__ = name
        meta = shared.meta
        self._model: ServiceModel = meta.service_model
        self._operation = self._model.operation_model(meta.method_to_api_mapping[name])
        self._protocol = self._model.resolved_protocol
        self._endpoint_url: str = meta.endpoint_url
        self._region: str = meta.region_name
        # The shared client's HTTP session (aiobotocore keeps it private).
        self._post = Poster(shared._endpoint.http_session, self._endpoint_url)
        self._credentials = credentials

    async def __call__(self, **params: Any) -> dict[str, Any]:
        operation = self._operation
        request_dict = _serializer(self._protocol).serialize_to_request(params, operation)
        request_dict.pop("host_prefix", None)  # lean_enough: none to add
        prepare_request_dict(request_dict, endpoint_url=self._endpoint_url, user_agent=USER_AGENT)
        request = create_request_object(request_dict)
        frozen = await self._credentials.get_frozen_credentials()
        SigV4Auth(frozen, self._model.signing_name, self._region).add_auth(request)
        prepared = request.prepare()
        response = await self._post.send(
            prepared.method, prepared.url, prepared.headers, prepared.body
        )
        body, status = response.body, response.status
        if 200 <= status < 300 and (why := answer_problem(self._protocol, operation, body)):
            raise MalformedAnswerError(status, response.headers, body, operation.name, why)
        answer: dict[str, Any] = _parser(self._protocol).parse(
            {"status_code": status, "headers": HeadersDict(response.headers), "body": body},
            operation.output_shape,
        )
        if status >= 301:  # as botocore: 300 itself is read as a success
            raise ClientError(answer, operation.name)  # type: ignore[arg-type]
        return answer
