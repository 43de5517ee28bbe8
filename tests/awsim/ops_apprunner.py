"""App Runner operations (JSON 1.0, target prefix ``AppRunner``): the two reads a sweep makes.
Services are kept as DescribeService answers them (Emulator.add_app_runner_service)."""

from __future__ import annotations

from typing import Any

from .context import Ctx, Handler
from .wire import AwsError, page_sorted


def list_services(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    services = ctx.state.region(ctx.account, ctx.region).app_runner
    size = req.get("MaxResults", 20)
    if not isinstance(size, int) or not 1 <= size <= 20:
        raise AwsError("InvalidRequestException", "MaxResults must be between 1 and 20.")
    page, tok = page_sorted(sorted(services), req.get("NextToken"), size, "apprunner:ListServices")
    summaries = [
        {key: services[arn][key] for key in ("ServiceName", "ServiceId", "ServiceArn", "Status")}
        for arn in page
    ]
    return {"ServiceSummaryList": summaries, **({"NextToken": tok} if tok else {})}


def describe_service(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    service = ctx.state.region(ctx.account, ctx.region).app_runner.get(req.get("ServiceArn", ""))
    if service is None:
        raise AwsError("ResourceNotFoundException", "The service does not exist.")
    return {"Service": service}


HANDLERS: dict[str, Handler] = {
    "ListServices": list_services,
    "DescribeService": describe_service,
}
