"""Server CPU per request of two source trees, measured interleaved under the same load.

    .venv/bin/python benchmarks/http_api_ab.py BEFORE_DIR AFTER_DIR [--endpoints sessions,flashcards]
        [--seconds 3] [--rounds 4] [--clients 20]

benchmarks/http_api.py compares each endpoint with a bare view measured a few seconds earlier;
on a shared 2-core machine the load moves within those seconds, and two runs of the same tree
differed by a third (sessions 13.3 vs 17.8 ms). For a before/after figure this runs both trees'
servers at once (each as http_api.py runs TutorHub: production settings, its own fresh SQLite
data seeded by benchmarks/api_data.py) and measures them in alternation, endpoint by endpoint,
swapping which goes first every round, so both see the same load. It prints the median CPU per
request of each tree over the rounds and the change. The trees are plain checkouts, e.g.
`git archive <rev> | tar -x -C DIR`; both run with this interpreter.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.http_api import ENDPOINTS, Server, measure, seeded_tutorhub, tutorhub_server  # noqa: E402


def start(label: str, root: Path, tmp: Path) -> tuple[Server, dict]:
    data_dir = tmp / label
    data_dir.mkdir()
    env, seeded = seeded_tutorhub(root, data_dir, f"http-ab-{label}")
    return tutorhub_server(label, root, env, tmp / f"{label}.log"), seeded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--endpoints", default="sessions,flashcards,groups,notifications")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    names = [n for n in args.endpoints.split(",") if n]
    if set(names) - set(ENDPOINTS) or not 0 < args.seconds <= 60 or not 0 < args.rounds <= 20 or not 0 < args.clients <= 200:
        parser.error(f"endpoints from {', '.join(ENDPOINTS)}; seconds 0-60, rounds 1-20, clients 1-200")
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    tmp = Path(tempfile.mkdtemp(prefix="tutorhub-http-ab-"))
    servers: dict[str, Server] = {}
    try:
        seeded = {}
        for label, root in trees.items():
            servers[label], seeded[label] = start(label, root, tmp)
        for server in servers.values():
            server.wait_ready("/healthz")
        cpu: dict[tuple[str, str], list[float]] = {(label, name): [] for label in trees for name in names}
        print(f"{args.clients} clients x {args.seconds:g} s x {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}", flush=True)
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in names:
                for label in order:
                    url = servers[label].url + ENDPOINTS[name].format(session=seeded[label]["session"])
                    headers = {"Authorization": f"Bearer {seeded[label]['token']}"}
                    if round_ == 0:
                        measure(servers[label], url, headers, 2, 0.5)  # first-use imports
                    cpu[(label, name)].append(measure(servers[label], url, headers, args.clients, args.seconds)["cpu_ms"])
        print(f"load average {os.getloadavg()[0]:.2f}")
        print(f"{'endpoint':<14} {'before ms':>9} {'after ms':>9} {'change':>7}   (server CPU per request, median of the rounds)")
        for name in names:
            before, after = statistics.median(cpu[("before", name)]), statistics.median(cpu[("after", name)])
            print(f"{name:<14} {before:>9.1f} {after:>9.1f} {after / before - 1:>+7.0%}")
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
