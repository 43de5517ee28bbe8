"""API rate quotas and page-size limits, with a token bucket per account x region x operation.

Default numbers are ASSUMPTIONS, taken from public AWS documentation where it exists:

* ECS -- "Request throttling for the Amazon ECS API" (docs.aws.amazon.com/AmazonECS/latest/
  APIReference/request-throttling.html): ECS throttles per account per Region with a token
  bucket; the page's example gives *cluster read* actions (DescribeClusters) a bucket of 50
  tokens.  We assume burst 50 / refill 20 per second for every read/list action we emulate.
  (Real ECS groups actions into shared buckets; we keep one bucket per operation, which is
  what the sweeper's per-operation limiters need to survive.)
* ECR -- "Amazon ECR service quotas" (docs.aws.amazon.com/AmazonECR/latest/userguide/
  service-quotas.html) publishes rates only for push/pull APIs: BatchGetImage 2,000/s,
  GetAuthorizationToken 500/s (older page: 200/s).  DescribeImages, ListImages,
  DescribeRepositories, BatchDeleteImage and GetRepositoryPolicy are not published; we assume
  20/s sustained with burst 40 (conservative, in line with commonly reported throttling of
  these management APIs).
* STS -- AssumeRole: we assume 100/s burst 200 per account (the documented STS request quota is
  per-account, adjustable, of the order of hundreds per second).
* Organizations -- assumed 5/s burst 10 per account (Organizations throttles aggressively and
  documents no public number).

Page-size limits are from the API references (maxResults ranges / defaults) and are enforced
exactly: a maxResults above the maximum is an InvalidParameterException.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DEFAULT_RATES", "PAGE_LIMITS", "Quotas", "RateLimit", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Token bucket parameters: ``rate`` tokens/second sustained, ``burst`` bucket capacity."""

    rate: float
    burst: float


_ECS_READ = RateLimit(20.0, 50.0)
_ECR_MGMT = RateLimit(20.0, 40.0)

# Keys are "service:Operation" with service in {"ecs", "ecr", "sts", "organizations"}.
DEFAULT_RATES: dict[str, RateLimit] = {
    **{
        f"ecs:{op}": _ECS_READ
        for op in (
            "ListClusters",
            "DescribeClusters",
            "ListServices",
            "DescribeServices",
            "ListTasks",
            "DescribeTasks",
            "DescribeTaskDefinition",
            "ListTaskDefinitions",
            "ListTaskDefinitionFamilies",
            "DescribeTaskSets",
            "DescribeServiceRevisions",
            "ListServiceDeployments",
            "DescribeServiceDeployments",
        )
    },
    **{
        f"ecr:{op}": _ECR_MGMT
        for op in (
            "DescribeRepositories",
            "DescribeImages",
            "ListImages",
            "BatchDeleteImage",
            "GetRepositoryPolicy",
            "ListTagsForResource",
        )
    },
    "ecr:BatchGetImage": RateLimit(2000.0, 2000.0),
    "sts:AssumeRole": RateLimit(100.0, 200.0),
    "sts:AssumeRoleWithWebIdentity": RateLimit(100.0, 200.0),
    "sts:GetCallerIdentity": RateLimit(100.0, 200.0),
    "organizations:ListAccounts": RateLimit(5.0, 10.0),
}

# (default, maximum) page sizes.  Organizations ListAccounts: max 20 (API reference).
PAGE_LIMITS: dict[str, tuple[int, int]] = {
    "ecs:ListClusters": (100, 100),
    "ecs:ListServices": (10, 100),
    "ecs:ListTasks": (100, 100),
    "ecs:ListTaskDefinitions": (100, 100),
    "ecs:ListTaskDefinitionFamilies": (100, 100),
    "ecs:ListServiceDeployments": (20, 100),
    "ecr:DescribeRepositories": (100, 1000),
    "ecr:DescribeImages": (100, 1000),
    "ecr:ListImages": (100, 1000),
    "organizations:ListAccounts": (20, 20),
}


@dataclass(frozen=True)
class Quotas:
    """Throttling configuration for one emulator run.

    ``rates`` overrides/extends :data:`DEFAULT_RATES`; ``default`` applies to operations not
    listed (None = unlimited).  ``enabled=False`` disables token buckets entirely (faults such as
    ``Faults.throttle_rate`` still apply).  ``org_empty_page_every=N`` makes Organizations
    ListAccounts return an empty page that still carries a NextToken before every N-th page
    (real Organizations does this occasionally; 0 disables it).
    """

    enabled: bool = True
    rates: dict[str, RateLimit] = field(default_factory=dict, hash=False)
    default: RateLimit | None = None
    org_empty_page_every: int = 3

    @classmethod
    def unlimited(cls, org_empty_page_every: int = 3) -> Quotas:
        return cls(enabled=False, org_empty_page_every=org_empty_page_every)

    @classmethod
    def uniform(cls, rate: float, burst: float, **kw: object) -> Quotas:
        """Same bucket for every operation (handy for benchmarks)."""
        rl = RateLimit(rate, burst)
        return cls(rates=dict.fromkeys(DEFAULT_RATES, rl), default=rl, **kw)  # type: ignore[arg-type]

    def limit_for(self, key: str) -> RateLimit | None:
        if not self.enabled:
            return None
        return self.rates.get(key) or DEFAULT_RATES.get(key) or self.default


class TokenBucket:
    """Classic token bucket; ``now`` is supplied by the caller (monotonic seconds)."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.rate = limit.rate
        self.capacity = limit.burst
        self.tokens = limit.burst
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
