"""Usage sources: each module reads one kind of "in use" for one account × region.

Every source implements `UsageSource` (context.py) and reports what it sees into the shared
`UsageContext`; `scan_usage` runs the enabled sources concurrently, then describes every task
definition they named (once each), then parses every image reference. Any failure of any source
becomes a usage `ScanError`, which blocks every deletion of the run (fail closed).
"""

from ecr_sweeper.aws.usage.context import UsageContext, UsageSource, scan_usage

__all__ = ["UsageContext", "UsageSource", "scan_usage"]
