"""``python -m awsim serve ...`` -- run the emulator as its own process (for benchmarks).

Examples::

    python -m awsim serve \
        --generate accounts=30,regions=3,services_per_region=40,images_total=50000,seed=0
    python -m awsim serve --scenario-pickle /tmp/scn.pkl --port 8765 --quotas unlimited \
        --faults '{"throttle_rate": 0.3, "seed": 1}'

On startup it prints ``AWSIM_READY http://127.0.0.1:PORT`` on stdout (port 0 = pick a free one).
Admin JSON API: ``GET /_awsim/stats``, ``GET /_awsim/images?account=&region=&repo=``,
``GET /_awsim/deleted``, ``GET /_awsim/repositories``, ``POST /_awsim/faults`` (Faults fields),
``POST /_awsim/reset`` (clear counters).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import signal
import sys
from typing import Any

from aiohttp import web

from .generate import generate_org
from .quotas import Quotas
from .scenario import Scenario
from .server import AwsimServer, faults_from_json


def parse_kv(spec: str) -> dict[str, Any]:
    """``a=1,b=0.5,c=x`` -> {"a": 1, "b": 0.5, "c": "x"}."""
    out: dict[str, Any] = {}
    for part in filter(None, spec.split(",")):
        k, _, v = part.partition("=")
        val: Any = v
        for conv in (int, float):
            try:
                val = conv(v)
                break
            except ValueError:
                pass
        out[k.strip()] = val
    return out


def parse_quotas(spec: str, org_empty_page_every: int) -> Quotas:
    if spec == "default":
        return Quotas(org_empty_page_every=org_empty_page_every)
    if spec == "unlimited":
        return Quotas.unlimited(org_empty_page_every)
    if spec.startswith("uniform:"):
        rate, burst = (float(x) for x in spec[len("uniform:") :].split(","))
        return Quotas.uniform(rate, burst, org_empty_page_every=org_empty_page_every)
    raise SystemExit(f"bad --quotas {spec!r}: default | unlimited | uniform:RATE,BURST")


async def serve(server: AwsimServer, host: str, port: int) -> None:
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
    await site.start()
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    print(f"AWSIM_READY http://{host}:{sock.getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m awsim")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve a scenario over HTTP")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--generate", help="generate_org kwargs, e.g. accounts=30,regions=3,seed=0")
    src.add_argument("--scenario-pickle", help="path of a pickled awsim.Scenario")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--faults", default="{}", help="JSON object with awsim.Faults fields")
    s.add_argument("--quotas", default="default", help="default | unlimited | uniform:RATE,BURST")
    s.add_argument("--org-empty-page-every", type=int, default=3)
    s.add_argument("--stopped-task-retention", type=float, default=None)
    args = p.parse_args(argv)

    scenario: Scenario
    if args.generate is not None:
        scenario = generate_org(**parse_kv(args.generate))
    else:
        with open(args.scenario_pickle, "rb") as fh:
            scenario = pickle.load(fh)  # noqa: S301 - written by spawn_emulator, not untrusted
    server = AwsimServer(
        scenario,
        faults_from_json(json.loads(args.faults)),
        parse_quotas(args.quotas, args.org_empty_page_every),
        stopped_task_retention_s=args.stopped_task_retention,
    )
    asyncio.run(serve(server, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
