"""Process faults against a real `manage.py runall` (server + worker + scheduler, SQLite in a
fresh DATA_DIR, shipped lease defaults): what breaks, how long until it is cleared, what is
stored, and whether the next request works.

    .venv/bin/python benchmarks/faults_process.py

Scenarios:
- kill -9 of the worker while it processes a 150-page PDF: runall restarts the worker, the
  dead worker's lease expires (TASK_LEASE_SECONDS, 30) and the task runs again; time from the
  kill to the document being `completed`;
- the same kill seen by runall: time until a new worker beats (its restart);
- SIGTERM to runall: time until it and every child have exited.

`scenarios()` returns the rows (dicts); benchmarks/faults.py prints them after its model faults.
Before this work the document stayed `processing` for the 30-minute stale timer, reprocessing
answered 409, the task row stayed RUNNING, runall never restarted a child, and the worker
ignored SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.core.processes import ProcessSite, free_port, http_ok, leftovers, runall_children, wait_for  # noqa: E402

PAGES = 150
SETUP = """
from rest_framework_simplejwt.tokens import AccessToken
from tests.factories import CourseFactory
from tutorhub.accounts.models import User
user = User.objects.create_user(username="faults", email="faults@example.com", password="pw-faults-123456")
print(user.pk, CourseFactory(owner=user).pk, AccessToken.for_user(user))
"""


def _pdf(site: ProcessSite, pages: int) -> bytes:
    """A real multi-page PDF, made by the tests' generator (run where Django is configured)."""
    path = site.data_dir / "book.pdf"
    site.python(
        "from tests.knowledge.conftest import make_pdf\n"
        "text = '\\n'.join(f'Line {n}: energy, momentum and the conservation laws of mechanics.' for n in range(40))\n"
        f"open({str(path)!r}, 'wb').write(make_pdf([f'Page {{p}}\\n' + text for p in range({pages})]))"
    )
    return path.read_bytes()


def _document(site: ProcessSite, document_id: str) -> tuple[str, int] | None:
    rows = site.query(
        "SELECT processing_status, progress_percentage FROM knowledge_document WHERE id = ?", (document_id.replace("-", ""),)
    )
    return rows[0] if rows else None


def _worker_kill(site: ProcessSite, runall, port: int, course_id: str, token: str) -> list[dict]:
    auth = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}/api/v1/courses/{course_id}/documents/"
    response = httpx.post(f"{base}upload/", headers=auth, files={"file": ("book.pdf", _pdf(site, PAGES), "application/pdf")}, timeout=60)
    response.raise_for_status()
    document_id = response.json()["document"]["id"]
    assert wait_for(lambda: (_document(site, document_id) or ("", 0))[0] == "processing", 120, 0.02), "never started"
    worker = runall_children(runall.pid)["worker"]
    progress_at_kill = _document(site, document_id)[1]
    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()

    restarted = wait_for(lambda: runall_children(runall.pid).get("worker", worker) != worker, 60, 0.05)
    restart_s = time.monotonic() - killed
    beating = wait_for(lambda: site.query("SELECT count(*) FROM core_workerheartbeat WHERE pid != ?", (worker,))[0][0], 60, 0.1)
    beat_s = time.monotonic() - killed

    done = wait_for(lambda: _document(site, document_id)[0] in ("completed", "failed"), 180, 0.2)
    recovered_s = time.monotonic() - killed
    status, progress = _document(site, document_id)
    runs = [len(json.loads(ids)) for (ids,) in site.query(
        "SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE task_path LIKE '%document_process_task'")]
    chunks = site.query("SELECT count(*) FROM knowledge_chunk WHERE document_id = ?", (document_id.replace("-", ""),))[0][0]
    check = httpx.get(f"{base}{document_id}/processing_status/", headers=auth, timeout=30)
    return [
        {
            "fault": f"kill -9 worker at {progress_at_kill}% of a {PAGES}-page PDF",
            "time to recovery": f"{recovered_s:.1f} s to {status}" if done else f"not recovered in {recovered_s:.0f} s",
            "stored state": f"{status} {progress}%, {chunks} chunks, task runs {runs}",
            "next request ok": f"{check.status_code} {check.json().get('processing_status')}",
        },
        {
            "fault": "worker died under runall",
            "time to recovery": f"{restart_s:.1f} s to restart, {beat_s:.1f} s to its first heartbeat" if restarted and beating else "not restarted",
            "stored state": "restart logged" if "runall: worker exited with code -9" in site.log("runall.log") else "no log line",
            "next request ok": "-",
        },
    ]


def _sigterm(site: ProcessSite, runall, port: int) -> dict:
    started = time.monotonic()
    runall.send_signal(signal.SIGTERM)
    try:
        runall.wait(30)
    except Exception:  # noqa: BLE001  (reported as a row, not raised)
        pass
    took = time.monotonic() - started
    wait_for(lambda: not leftovers(site.data_dir), 5, 0.1)
    left = leftovers(site.data_dir)
    return {
        "fault": "SIGTERM to runall",
        "time to recovery": f"{took:.1f} s to exit (code {runall.returncode})",
        "stored state": f"{len(left)} processes left",
        "next request ok": "-",
    }


def scenarios() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="tutorhub-faults-") as tmp:
        site = ProcessSite(Path(tmp))
        try:
            site.run("migrate", "--noinput", timeout=600)
            _, course_id, token = site.python(SETUP).split()[-3:]
            port = free_port()
            runall = site.start("runall", "--port", str(port), log="runall.log")
            up = wait_for(lambda: len(runall_children(runall.pid)) == 3 and http_ok(port), 180, 0.3)
            if not up:
                return [{"fault": "runall did not start", "time to recovery": "-", "stored state": site.log("runall.log")[-300:],
                         "next request ok": "-"}]
            rows = _worker_kill(site, runall, port, course_id, token)
            rows.append(_sigterm(site, runall, port))
            return rows
        finally:
            site.stop_all()


def main() -> int:
    rows = scenarios()
    header = list(rows[0])
    widths = [max(len(str(r.get(k, ""))) for r in [dict(zip(header, header, strict=True)), *rows]) for k in header]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(row.get(k, "")).ljust(w) for k, w in zip(header, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
