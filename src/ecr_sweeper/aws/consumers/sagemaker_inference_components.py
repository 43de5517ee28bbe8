"""SageMaker inference components: the image each one runs on its endpoint, as SageMaker
reports it (ListInferenceComponents → DescribeInferenceComponent:
`Specification.Container.DeployedImage`, `SpecifiedImage` and `ResolvedImage`, the digest
SageMaker pulled; the `Specifications[]` of a deployment in flight too), read by the model's
shapes. A component built from a model (`ModelName`, no container) runs that model's
containers, described here (a model deleted since leaves the kind unread, naming both); an
adapter component (`BaseInferenceComponentName`) runs on its base component's container.
A component that reports none of these runs images this reader does not see: unread.

The endpoints reader asks `hosting` which endpoint variants host components: their images are
the components', not the variant's `DeployedImages`.
"""

from __future__ import annotations

from typing import Any

from ecr_sweeper.aws.consumers.kind import ReadContext, Reader, Reading
from ecr_sweeper.aws.consumers.sagemaker_reads import (
    KIND_NAME,
    Listing,
    describe,
    each,
    model_images,
)
from ecr_sweeper.aws.consumers.shapes import Schema

LISTING = Listing(lambda sagemaker: sagemaker.list_inference_components, "InferenceComponents")
_IMAGES = {
    ("DeployedImage", "SpecifiedImage"): "image",
    ("DeployedImage", "ResolvedImage"): "resolved",
}


async def hosting(ctx: ReadContext, sagemaker: Any) -> set[tuple[str, str]]:
    """(endpoint, variant) of every variant that hosts an inference component."""
    return {
        (str(c.get("EndpointName")), str(c.get("VariantName")))
        for c in await LISTING.items(ctx, sagemaker)
    }


async def read(ctx: ReadContext) -> Reading:
    """The images of every inference component (see the module)."""
    found = ctx.findings()
    if (sagemaker := await ctx.client_if_offered("sagemaker")) is None:
        return found.reading()
    components = await LISTING.items(ctx, sagemaker)
    found.present(bool(components))
    found.count("sagemaker inference components", len(components))
    schema = Schema("sagemaker", _IMAGES)

    async def one(summary: dict[str, Any]) -> None:
        name = summary["InferenceComponentName"]
        answer, members = await describe(
            ctx,
            sagemaker.describe_inference_component,
            "DescribeInferenceComponent",
            schema,
            InferenceComponentName=name,
        )
        label = f"SageMaker inference component {name} (endpoint {answer.get('EndpointName')})"
        for member in members:
            found.image(member.value, f"{label} ({member.path})", None, KIND_NAME)
        specifications = [answer.get("Specification"), *(answer.get("Specifications") or ())]
        for spec in (s for s in specifications if isinstance(s, dict)):
            if spec.get("Container"):
                if not members:  # a container not deployed yet: what it will pull is unknown
                    found.unread(f"{label}: its container reports no deployed image yet")
            elif spec.get("BaseInferenceComponentName"):
                continue
            elif isinstance(model := spec.get("ModelName"), str):
                await model_images(ctx, sagemaker, found, model, label)
            elif not members:
                found.unread(f"{label}: reports no deployed image, model or base component")

    await each(components, one)
    return found.reading()


READER = Reader("sagemaker inference components", read)
