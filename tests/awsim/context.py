"""Per-request context handed to operation handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .quotas import Quotas
from .state import OrgState


@dataclass(slots=True)
class Ctx:
    state: OrgState
    account: str  # the caller's account (from its credentials)
    region: str  # from the SigV4 credential scope
    caller_arn: str
    now: float  # wall-clock epoch seconds
    quotas: Quotas
    stopped_task_retention_s: float | None
    # STS needs to mint sessions in the server; other handlers ignore this.
    issue_session: Callable[..., Any] | None = None


Handler = Callable[[Ctx, dict[str, Any]], Any]
