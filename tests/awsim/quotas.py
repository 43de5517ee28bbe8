"""API rate quotas and page-size limits, with token buckets per account x region.

Sources, and what is an ASSUMPTION:

* ECS -- "Request throttling for the Amazon ECS API"
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html): ECS
  throttles per account per Region with a token bucket per *category of actions*, shared by
  every action in the category (bucket maximum capacity = burst, refill rate = sustained). The
  read categories a sweep touches, as that page lists them (burst / refill per second):

  ======================  ===========================================================  =======
  cluster read            DescribeClusters, ListClusters                                50 / 20
  task definition read    DescribeTaskDefinition, ListTaskDefinitions,                  50 / 20
                          ListTaskDefinitionFamilies
  cluster resource read   DescribeTasks, ListTasks, DescribeContainerInstances,        100 / 20
                          ListContainerInstances, ListAttributes
  service read            DescribeServices, ListServices                               100 / 20
  service deployment      DescribeServiceDeployments, ListServiceDeployments            50 / 20
  service revision        DescribeServiceRevisions                                      50 / 20
  tag read                ListTagsForResource                                           50 / 20
  ======================  ===========================================================  =======

  An ECS action in none of these (DescribeTaskSets, the daemon actions…) gets a bucket of its
  own with the smallest read category's numbers, 50 / 20: an ASSUMPTION.
* ECR -- "Amazon ECR service quotas" (docs.aws.amazon.com/AmazonECR/latest/userguide/
  service-quotas.html) publishes rates only for push/pull APIs: BatchGetImage 2,000/s,
  GetAuthorizationToken 500/s (older page: 200/s).  DescribeImages, ListImages,
  DescribeRepositories, BatchDeleteImage, GetRepositoryPolicy and ListTagsForResource are not
  published; we ASSUME one bucket per action, 20/s sustained with burst 40 (conservative, in
  line with commonly reported throttling of these management APIs).
* STS -- AssumeRole: we assume 100/s burst 200 per account (the documented STS request quota is
  per-account, adjustable, of the order of hundreds per second).
* Organizations -- assumed 5/s burst 10 per account (Organizations throttles aggressively and
  documents no public number).

The client keeps its own copy of the ECS table (``ecr_sweeper.aws.limits.ECS_BUCKETS``); a test
checks the two agree, so neither silently drifts from the page.

Page-size limits are from the API references (maxResults ranges / defaults) and are enforced
exactly: a maxResults above the maximum is an InvalidParameterException.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_RATES",
    "ECS_CATEGORIES",
    "ECS_DEFAULT",
    "PAGE_LIMITS",
    "Quotas",
    "RateLimit",
    "TokenBucket",
]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Token bucket parameters: ``rate`` tokens/second sustained, ``burst`` bucket capacity."""

    rate: float
    burst: float


# category -> (its limit, its actions), as the ECS throttling page lists them.
ECS_CATEGORIES: dict[str, tuple[RateLimit, tuple[str, ...]]] = {
    "cluster read": (RateLimit(20.0, 50.0), ("DescribeClusters", "ListClusters")),
    "task definition read": (
        RateLimit(20.0, 50.0),
        ("DescribeTaskDefinition", "ListTaskDefinitions", "ListTaskDefinitionFamilies"),
    ),
    "cluster resource read": (
        RateLimit(20.0, 100.0),
        (
            "DescribeTasks",
            "ListTasks",
            "DescribeContainerInstances",
            "ListContainerInstances",
            "ListAttributes",
        ),
    ),
    "service read": (RateLimit(20.0, 100.0), ("DescribeServices", "ListServices")),
    "service deployment read": (
        RateLimit(20.0, 50.0),
        ("DescribeServiceDeployments", "ListServiceDeployments"),
    ),
    "service revision read": (RateLimit(20.0, 50.0), ("DescribeServiceRevisions",)),
    "tag read": (RateLimit(20.0, 50.0), ("ListTagsForResource",)),
}
ECS_DEFAULT = RateLimit(20.0, 50.0)  # an ECS action in no category: a bucket of its own
_ECS_CATEGORY_OF = {
    f"ecs:{action}": f"ecs:{category}"
    for category, (_, actions) in ECS_CATEGORIES.items()
    for action in actions
}
_ECR_MGMT = RateLimit(20.0, 40.0)

# Keys are "service:Operation" with service in {"ecs", "ecr", "sts", "organizations"}; an ECS
# operation's limit is its category's (its bucket is the category's, see Quotas.bucket_for).
DEFAULT_RATES: dict[str, RateLimit] = {
    **{f"ecs:{op}": limit for limit, actions in ECS_CATEGORIES.values() for op in actions},
    **{
        f"ecr:{op}": _ECR_MGMT
        for op in (
            "DescribeRepositories",
            "DescribeImages",
            "ListImages",
            "BatchDeleteImage",
            "UpdateImageStorageClass",
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
    "ecr:ListPullTimeUpdateExclusions": (100, 1000),
    "inspector2:ListCoverage": (100, 200),
    "organizations:ListAccounts": (20, 20),
}


@dataclass(frozen=True)
class Quotas:
    """Throttling configuration for one emulator run.

    ``rates`` overrides/extends :data:`DEFAULT_RATES`, per operation ("ecs:ListTasks": a bucket
    of its own) or per ECS category ("ecs:cluster resource read"); ``default`` applies to
    operations not listed (None = unlimited).  ``enabled=False`` disables token buckets entirely
    (faults such as ``Faults.throttle_rate`` still apply).  ``org_empty_page_every=N`` makes
    Organizations ListAccounts return an empty page that still carries a NextToken before every
    N-th page (real Organizations does this occasionally; 0 disables it).
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
        """The limit of the bucket operation ``key`` ("ecs:ListTasks") draws from."""
        if not self.enabled:
            return None
        if key in self.rates:
            return self.rates[key]
        category = _ECS_CATEGORY_OF.get(key)
        if category is not None and category in self.rates:
            return self.rates[category]
        if key.startswith("ecs:") and key not in DEFAULT_RATES:
            return self.default or ECS_DEFAULT
        return DEFAULT_RATES.get(key) or self.default

    def bucket_for(self, key: str) -> str:
        """The bucket operation ``key`` draws from: an ECS action's category ("ecs:cluster
        resource read"), unless ``rates`` gives the action a limit of its own; else the
        operation itself."""
        if key in self.rates:
            return key
        return _ECS_CATEGORY_OF.get(key, key)


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
