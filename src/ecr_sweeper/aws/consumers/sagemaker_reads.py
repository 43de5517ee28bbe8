"""What the SageMaker readers share: a listing whose every item is described and read by the
model's shapes, and the containers of a model that something running names (a transform job,
an inference component). Each reader's module says which listing, which call and which members.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from ecr_sweeper.aws.consumers.kind import Findings, ReadContext
from ecr_sweeper.aws.consumers.shapes import Found, Schema
from ecr_sweeper.aws.limits import error_code

PAGE = 100
KIND_NAME = "sagemaker"
_MODEL_IMAGES = {("ContainerDefinition", "Image"): "image"}


Call = Callable[..., Awaitable[dict[str, Any]]]
# A client's call, picked by attribute (`lambda sagemaker: sagemaker.list_algorithms`), so that
# tools/iam.py finds every action the code calls in its source.
Pick = Callable[[Any], Call]


@dataclass(frozen=True, slots=True)
class Listing:
    """A SageMaker list call, the key of its items, and its filters."""

    call: Pick
    key: str  # e.g. "AlgorithmSummaryList"
    filters: Mapping[str, str] = field(default_factory=dict)

    async def items(self, ctx: ReadContext, sagemaker: Any, **more: str) -> list[dict[str, Any]]:
        """Every item of the listing, page by page."""
        return await ctx.api.pages(
            self.call(sagemaker), self.key, "NextToken", MaxResults=PAGE, **self.filters, **more
        )

    async def any(self, ctx: ReadContext, sagemaker: Any) -> bool:
        """Whether the listing has an item (a census call: one item asked)."""
        answer = await ctx.api.call(self.call(sagemaker), MaxResults=1, **self.filters)
        return bool(answer.get(self.key))


async def each(items: list[Any], one: Callable[[Any], Any]) -> None:
    """`await one(item)` for every item, concurrently (the call gate paces them)."""
    async with anyio.create_task_group() as tg:
        for item in items:
            tg.start_soon(one, item)


async def describe(
    ctx: ReadContext, call: Call, operation: str, schema: Schema, **request: Any
) -> tuple[dict[str, Any], list[Found]]:
    """The answer of a SageMaker describe call (`operation`, PascalCase, names its shape), and
    the members of it that matter."""
    answer = await ctx.api.call(call, **request)
    return answer, schema.find(schema.output_shape(operation), answer)


def digest_beside(member: Found, key: str) -> str | None:
    """The digest a container's answer gives beside its image (`ImageDigest`…), if any."""
    digest = member.holder.get(key)
    return digest if isinstance(digest, str) else None


async def model_images(
    ctx: ReadContext, sagemaker: Any, found: Findings, model: str, label: str
) -> None:
    """The containers of `model`, which `label` runs. A model that is gone (SageMaker copies
    it into what runs, so this does not stop it) leaves the kind unread here, naming both."""
    schema = Schema("sagemaker", _MODEL_IMAGES)
    try:
        _, members = await describe(
            ctx, sagemaker.describe_model, "DescribeModel", schema, ModelName=model
        )
    except Exception as exc:
        if error_code(exc) != "ValidationException":  # SageMaker's "Could not find model"
            raise
        found.unread(f"{label}: its model {model} cannot be described (deleted?)")
        return
    for member in members:
        where = f"{label} (model {model} {member.path.removesuffix('.Image')})"
        found.image(member.value, where, None, KIND_NAME)
