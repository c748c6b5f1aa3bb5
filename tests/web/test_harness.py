"""The browser-test harness itself: the checks every page test relies on really catch what
they are meant to (an external request, an axe violation), and the test server leaves no
process behind (issue 14 items 8 and 10)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.core.processes import processes_with_env, runall_children, wait_for
from tests.web.conftest import ROOT, assert_accessible, migrate, server_env, start_runall, stop_runall

pytestmark = pytest.mark.browser


def test_a_request_leaving_loopback_is_aborted_and_recorded(page):
    # A page without our CSP (which would refuse the fetch before it became a request at all).
    page.set_content('<html lang="en"><title>t</title><main>x</main></html>')
    status = page.evaluate(
        "() => fetch('https://example.com/tracker.gif').then(() => 'loaded', () => 'blocked')"
    )
    assert status == "blocked"
    assert page.external_requests == ["https://example.com/tracker.gif"]
    page.external_requests.clear()  # recorded as intended; the fixture would otherwise fail the test


def test_axe_reports_serious_violations_and_passes_a_clean_page(page):
    page.goto("/accounts/login/")
    assert_accessible(page)
    page.set_content('<html lang="en"><title>t</title><main><img src="data:,"><button></button></main></html>')
    with pytest.raises(AssertionError) as failed:
        assert_accessible(page)
    assert "image-alt" in str(failed.value) and "button-name" in str(failed.value)


def test_the_servers_processes_are_all_gone_after_teardown(tmp_path):
    """Started and stopped exactly as the `asgi_server` fixture does it: runall's server,
    worker and scheduler children run, and after stop_runall nothing with the server's
    DATA_DIR is left (not even re-parented to init)."""
    env = server_env(tmp_path)
    env.pop("DATABASE_URL", None)  # SQLite in tmp_path, whatever the suite runs on
    migrate(env)
    with (tmp_path / "server.log").open("w") as log:
        process, _ = start_runall(env, log)
        try:
            children = wait_for(lambda: len(runall_children(process.pid)) == 3 and runall_children(process.pid), timeout=30)
            assert set(children) == {"server", "worker", "scheduler"}
        finally:
            survivors = stop_runall(process, env)
    assert survivors == []
    assert processes_with_env("DATA_DIR", str(tmp_path)) == []


def test_the_server_stops_when_the_test_run_is_killed(tmp_path):
    """pytest killed outright (kill -9, a CI timeout) runs no teardown: the server it started
    must still go, with all its children (runall gets SIGTERM through PR_SET_PDEATHSIG)."""
    env = server_env(tmp_path)
    env.pop("DATABASE_URL", None)
    migrate(env)
    # Stands in for the pytest process: starts the server with the fixture's helper, then waits.
    runner = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys, time\n"
         "from tests.web.conftest import start_runall\n"
         "env = dict(os.environ)\n"
         "process, url = start_runall(env, open(os.environ['DATA_DIR'] + '/server.log', 'w'))\n"
         "print(process.pid, flush=True)\n"
         "time.sleep(300)\n"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        runall_pid = int(runner.stdout.readline())
        assert wait_for(lambda: len(runall_children(runall_pid)) == 3, timeout=30)
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        gone = wait_for(lambda: processes_with_env("DATA_DIR", str(tmp_path)) == [], timeout=30)
        assert gone, processes_with_env("DATA_DIR", str(tmp_path))
    finally:
        runner.kill()
        runner.wait()
        runner.stdout.close()
        for pid, _ in processes_with_env("DATA_DIR", str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
