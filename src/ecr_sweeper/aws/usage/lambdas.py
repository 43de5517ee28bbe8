"""Lambda functions packaged as images: every published version ($LATEST included; aliases
point at versions), by `ImageUri` and by the digest Lambda resolved (`ResolvedImageUri`)."""

from __future__ import annotations

from typing import Any

import anyio

from ecr_sweeper.aws.usage.context import UsageContext
from ecr_sweeper.model import Sources


class Lambdas:
    """Image-packaged Lambda functions, every version."""

    name = "lambda"
    kind = "lambda"

    def enabled(self, sources: Sources) -> bool:
        return sources.lambdas

    async def present(self, ctx: UsageContext) -> bool:
        client = await ctx.client("lambda")
        answer = await ctx.api.call(client.list_functions, MaxItems=1)
        return bool(answer.get("Functions"))

    async def collect(self, ctx: UsageContext) -> None:
        client = await ctx.client("lambda")
        functions = await ctx.api.pages(
            client.list_functions, "Functions", "NextMarker", "Marker", FunctionVersion="ALL"
        )
        images = [f for f in functions if f.get("PackageType") == "Image"]
        ctx.count("lambda versions", len(images))

        async def one(function: dict[str, Any]) -> None:
            answer = await ctx.api.call(
                client.get_function,
                FunctionName=function["FunctionName"],
                Qualifier=function.get("Version", "$LATEST"),
            )
            code = answer.get("Code", {})
            where = f"lambda {function['FunctionName']}:{function.get('Version', '$LATEST')}"
            if code.get("ImageUri"):
                ctx.saw_image(code["ImageUri"], where, None, "lambda")
            if code.get("ResolvedImageUri"):
                ctx.saw_image(code["ResolvedImageUri"], f"{where} (resolved)", None, "lambda")

        async with anyio.create_task_group() as tg:
            for function in images:
                tg.start_soon(one, function)
