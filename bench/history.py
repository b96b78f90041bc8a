"""The history checker, long form: `python bench/history.py --minutes 10 --json bench/results/history.json`.

Starts its own durable broker, Milvus Lite and Triton (the local stack) and the API, runs racing writers (half of
them through the API), a nemesis (SIGKILL and SIGSTOP of workers; with --restarts also the broker and Milvus killed
and restarted) and a reader checking every read (every other one through the API) for as long as asked, then compares
the index with the log.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from ragstream.core.settings import KafkaSettings, LocalStackSettings, Settings, WorkerSettings  # noqa: E402
from ragstream.infra.local.ray_runtime import start_local_ray, stop_local_ray  # noqa: E402
from ragstream.infra.local.stack import LocalStack  # noqa: E402
from ragstream.infra.topics import ensure_topics  # noqa: E402
from testkit.history import History  # noqa: E402
from testkit.monotonic import Api  # noqa: E402
from testkit.settings import with_api  # noqa: E402

KEY = "key-history"
END_STATE = ("lost", "stale", "wrong_text", "duplicated", "registry_behind")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--restarts", nargs="*", choices=["broker", "milvus"],
                        help="also kill and restart these (both when named without any)")
    parser.add_argument("--api", action=argparse.BooleanOptionalAction, default=True,
                        help="half of the writers and every other read go through the HTTP API (default)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        stack = LocalStack(Settings(kafka=KafkaSettings(session_timeout_ms=6000, heartbeat_interval_ms=2000),
                                    local=LocalStackSettings(data_dir=Path(data), durable_broker=True),
                                    worker=WorkerSettings(num_cpus=0.25)))
        stack.start()
        start_local_ray()
        settings = with_api(stack.settings, {KEY: "acme"})
        api = None
        try:
            ensure_topics(settings.kafka)
            if args.api:
                from ragstream.services.app import run
                api = Api(run(settings), KEY)
            components = {"broker": stack.broker, "milvus": stack.milvus}
            named = list(components) if args.restarts == [] else args.restarts or []  # None: the flag is absent
            restarts = {name: (components[name].kill, components[name].start) for name in named}
            history = History(settings, seed=args.seed, docs=40, writers=4, restarts=restarts, api=api)
            report = history.run(args.minutes * 60, workers=args.workers)
            row = report.row()
            if "milvus" in restarts:  # once more after a last crash: what the server answered must be what it kept
                stack.milvus.kill()
                stack.milvus.start()
                history.compare()
                row["after_a_last_milvus_crash"] = {k: report.row()[k] for k in END_STATE}
        finally:
            if api:
                from ray import serve
                serve.shutdown()
            stop_local_ray()
            stack.stop()
    row = {"minutes": args.minutes, "seed": args.seed, "workers": args.workers, "api": args.api,
           "restarts": sorted(restarts), **row}
    table = Table(title="history checker")
    for key in row:
        table.add_column(key)
    table.add_row(*(str(v) for v in row.values()))
    Console().print(table)
    if report.violations or report.mismatched or report.rolled_back:
        Console().print("\n".join(report.violations[:20] + report.mismatched + report.rolled_back[:20]))
    if args.json:
        args.json.write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
