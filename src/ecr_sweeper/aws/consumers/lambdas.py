"""Lambda functions packaged as images: every published version ($LATEST included; aliases
point at versions), by `ImageUri` and by the digest Lambda resolved (`ResolvedImageUri`)."""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, Reader, Reading, Switch

NAME = "lambda"


async def present(ctx: ReadContext) -> bool:
    """Any function in the region."""
    client = await ctx.client("lambda")
    answer = await ctx.api.call(client.list_functions, MaxItems=1)
    return bool(answer.get("Functions"))


async def read(ctx: ReadContext) -> Reading:
    """Image-packaged Lambda functions, every version."""
    found = ctx.findings()
    client = await ctx.client("lambda")
    functions = await ctx.api.pages(
        client.list_functions, "Functions", "NextMarker", "Marker", FunctionVersion="ALL"
    )
    found.present(bool(functions))
    images = [f for f in functions if f.get("PackageType") == "Image"]
    found.count("lambda versions", len(images))

    async def one(function: dict[str, Any]) -> None:
        answer = await ctx.api.call(
            client.get_function,
            FunctionName=function["FunctionName"],
            Qualifier=function.get("Version", "$LATEST"),
        )
        code = answer.get("Code", {})
        where = f"lambda {function['FunctionName']}:{function.get('Version', '$LATEST')}"
        if code.get("ImageUri"):
            found.image(code["ImageUri"], where, None, NAME)
        if code.get("ResolvedImageUri"):
            found.image(code["ResolvedImageUri"], f"{where} (resolved)", None, NAME)

    async with anyio.create_task_group() as tg:
        for function in images:
            tg.start_soon(one, function)
    return found.reading()


_PURPOSE = "image-packaged functions (`--no-lambda` turns it off)"
KIND = Kind(
    name=NAME,
    title="lambda",
    present=present,
    readers=(Reader("lambda", read),),
    switch=Switch(
        "Read image-packaged Lambda functions, every version (default on).", aliases=("lambdas",)
    ),
    iam=(
        IamAction("lambda:ListFunctions", "ReadScheduledAndLambdaUsage", _PURPOSE),
        IamAction("lambda:GetFunction", "ReadScheduledAndLambdaUsage", _PURPOSE),
    ),
    principals=("lambda.amazonaws.com",),
    emulated="moto: functions, versions, GetFunction; tests/awsim: the census only (none)",
)
