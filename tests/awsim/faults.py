"""Fault injection configuration and its deterministic decision function.

Random faults are decided by hashing ``(seed, kind, account, region, operation, n)`` where
``n`` counts calls for that (account, region, operation): the k-th DescribeImages call of an
account/region gets the same fate in every run, regardless of how other calls interleave.
Latency jitter uses the same scheme.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["Faults", "unit_random"]


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often.  All rates are fractions in [0, 1].

    * ``latency_s`` + uniform ``[0, latency_jitter_s)`` is added to every call.
    * ``error_5xx_rate``: calls answered HTTP 500 (odd draws) or 503 (even draws) with
      ``InternalFailure`` / ``ServiceUnavailable`` bodies.
    * ``drop_rate``: the TCP connection is closed without any response.
    * ``throttle_rate``: ThrottlingException regardless of the token buckets ("30% storms").
    * ``credential_ttl_s``: sessions from AssumeRole* expire after this many seconds (also the
      ``Expiration`` returned), then every call with them is ``ExpiredTokenException``.
    * ``credential_max_calls``: a session expires after this many calls.
    * ``denied_accounts`` / ``denied_account_regions``: every ECS/ECR/Organizations call made
      *as* that account (or account x region) is ``AccessDeniedException``; AssumeRole into a
      denied account is ``AccessDenied``.
    * ``operations`` / ``accounts`` / ``regions``: when set, restrict the *random* faults (5xx,
      drop, throttle_rate) to these operation names (e.g. ``"DescribeImages"``) / account ids /
      region names.
    """

    seed: int = 0
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    error_5xx_rate: float = 0.0
    drop_rate: float = 0.0
    throttle_rate: float = 0.0
    credential_ttl_s: float | None = None
    credential_max_calls: int | None = None
    denied_accounts: frozenset[str] = frozenset()
    denied_account_regions: frozenset[tuple[str, str]] = frozenset()
    operations: frozenset[str] | None = None
    denied_operations: frozenset[str] = frozenset()  # e.g. "ListDaemons": AccessDenied, always
    accounts: frozenset[str] | None = None
    regions: frozenset[str] | None = None

    def random_faults_apply(self, account: str, operation: str, region: str | None = None) -> bool:
        if self.operations is not None and operation not in self.operations:
            return False
        if self.regions is not None and region not in self.regions:
            return False
        return self.accounts is None or account in self.accounts

    def denies(self, account: str, region: str, operation: str = "") -> bool:
        return (
            account in self.denied_accounts
            or (account, region) in self.denied_account_regions
            or operation in self.denied_operations
        )


def unit_random(seed: int, kind: str, account: str, region: str, operation: str, n: int) -> float:
    """Deterministic pseudo-random float in [0, 1) for one decision."""
    h = hashlib.blake2b(f"{seed}|{kind}|{account}|{region}|{operation}|{n}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "big") / 2**64
