"""The scaled-out topology (deploy/local-cluster) as a test fixture: PostgreSQL, Redis, a Chroma
server, two servers, two workers, a scheduler and nginx, all real processes on 127.0.0.1.

Opt-in (CLUSTER_TESTS=1): starting the cluster takes a minute, which a plain `make test` should
not pay; `.ci/run` runs these as their own step. The cluster is stopped at the end of the
session, and the session fails if any of its processes survives `stop`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local-cluster"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# Limits raised for the tests' bursts (200 uploads at once); everything else is the shipped default,
# leases and heartbeats included: the recovery times asserted are what an operator gets.
CLUSTER_ENV = {"THROTTLE_UPLOADS": "10000/hour", "THROTTLE_USER": "100000/min", "THROTTLE_AI_GENERATION": "10000/hour"}


def pytest_configure(config):
    config.addinivalue_line("markers", "cluster: needs deploy/local-cluster's processes (CLUSTER_TESTS=1)")


def pytest_collection_modifyitems(config, items):
    missing = [name for name in ("nginx", "redis-server") if not shutil.which(name) and not Path("/usr/sbin", name).exists()]
    if not (PG_BIN / "initdb").exists():
        missing.append("initdb")
    reason = None
    if os.environ.get("CLUSTER_TESTS") != "1":
        reason = "cluster tests: set CLUSTER_TESTS=1 (they start PostgreSQL, Redis, Chroma, nginx and 5 TutorHub processes)"
    elif missing:
        reason = f"cluster tests need {', '.join(missing)}"
    for item in items:
        if "cluster" in item.keywords and reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Cluster:
    state: Path
    info: dict

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def ws_url(self) -> str:
        return self.info["ws_url"]

    def processes(self, kind: str) -> list[dict]:
        return [p for p in self.info["processes"] if p["kind"] == kind]

    def reload(self) -> None:
        self.info = json.loads((self.state / "cluster.json").read_text())

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.info["env"], "PYTHONPATH": str(ROOT)}

    def python(self, code: str, timeout: float = 120) -> str:
        """Django code in a separate process against the cluster's database; its stdout."""
        done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def sql(self, query: str, params=()) -> list[tuple]:
        with psycopg.connect(self.info["env"]["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def log(self, name: str) -> str:
        path = self.state / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def spawn(self, kind: str) -> dict:
        done = subprocess.run([sys.executable, str(SCRIPT), "spawn", "--state", str(self.state), kind],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        self.reload()
        return json.loads(done.stdout)


@pytest.fixture(scope="session")
def cluster(request) -> Cluster:
    """A cluster started for the session, or CLUSTER_STATE's running one (deploy/local-cluster
    start --state DIR --env ...: left running, for working on these tests)."""
    if os.environ.get("CLUSTER_STATE"):
        state = Path(os.environ["CLUSTER_STATE"])
        yield Cluster(state, json.loads((state / "cluster.json").read_text()))
        return
    # Not under pytest's basetemp: another pytest session may prune that while the cluster runs.
    state = Path(tempfile.mkdtemp(prefix="tutorhub-cluster-test-"))
    argv = [sys.executable, str(SCRIPT), "start", "--state", str(state)]
    for key, value in CLUSTER_ENV.items():
        argv += ["--env", f"{key}={value}"]
    # CI bounds this step with `timeout` (SIGTERM): unwind like Ctrl+C so the teardown below still
    # stops every process of the cluster.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    started = subprocess.run(argv, capture_output=True, text=True, timeout=400)
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        yield Cluster(state, json.loads((state / "cluster.json").read_text()))
    finally:
        stopped = subprocess.run([sys.executable, str(SCRIPT), "stop", "--state", str(state)],
                                 capture_output=True, text=True, timeout=180)
        signal.signal(signal.SIGTERM, previous)
        assert stopped.returncode == 0, f"processes of the cluster survived stop: {stopped.stderr}"
        if request.session.testsfailed:
            print(f"\ncluster logs kept in {state / 'logs'}")
        else:
            shutil.rmtree(state, ignore_errors=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
