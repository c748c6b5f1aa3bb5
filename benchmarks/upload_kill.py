"""Uploads interrupted by `kill -9`: how many files are left on disk with no row, before and after
the orphan sweep (issue 12: "a kill during 24 uploads left 1 file on disk with no row").

    .venv/bin/python benchmarks/upload_kill.py [--uploads 24] [--trials 5] [--size-kb 1500]

Each trial starts TutorHub as `make run` serves it (`manage.py runall --server-only`, fresh SQLite
and MEDIA_ROOT), sends --uploads concurrent feedback posts with a PNG screenshot from this
process, and SIGKILLs the server once a random share of them has been answered. It then counts
the files under MEDIA_ROOT that no row names (orphans) and the rows whose file is missing, runs
the orphan sweep as the hourly job would an hour later (`orphan_files_delete(older_than=0)`),
and counts again. Loopback only; every process it starts is stopped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_stream import free_port, wait_for_port  # noqa: E402


def noisy_png(size_kb: int) -> bytes:
    """A PNG of random pixels (incompressible, so about size_kb on disk)."""
    from PIL import Image

    side = max(8, int((size_kb * 1024 / 3) ** 0.5))
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


COUNT_SCRIPT = """
import json, os
from django.core.files.storage import default_storage
from tutorhub.core.files import _referenced_names, orphan_files_delete
from tutorhub.learning.models import Feedback

def state():
    root = default_storage.location
    on_disk = set()
    for dirpath, _d, files in os.walk(root):
        on_disk |= {os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/") for f in files}
    referenced = _referenced_names()
    return {"rows": Feedback.objects.count(), "files": len(on_disk), "orphans": len(on_disk - referenced),
            "rows_without_file": len(referenced - on_disk)}

before = state()
swept = orphan_files_delete(older_than=__import__("datetime").timedelta(0))
print(json.dumps({"before": before, "swept": swept, "after": state()}))
"""


def trial(args, python: str, png: bytes) -> dict:
    import httpx

    workdir = Path(tempfile.mkdtemp(prefix="upload-kill-"))
    port = free_port()
    env = {
        **os.environ, "DATA_DIR": str(workdir), "DEBUG": "0", "SECRET_KEY": "bench-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "THROTTLING_ENABLED": "0", "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING", "FEEDBACK_SCREENSHOT_MAX_BYTES": str(len(png) * 2),
    }
    env.pop("DATABASE_URL", None)
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    token_script = (
        "from tutorhub.accounts.models import User; from rest_framework_simplejwt.tokens import RefreshToken;"
        "u=User.objects.create(username='bench', email='bench@example.com');"
        "print(RefreshToken.for_user(u).access_token)"
    )
    out = subprocess.run([python, "manage.py", "shell", "-c", token_script], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    token = out.stdout.strip().splitlines()[-1]
    server = subprocess.Popen(
        [python, "manage.py", "runall", "--server-only", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    answered = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    kill_after = random.randint(1, max(1, args.uploads - 1))
    killed = threading.Event()

    def kill() -> None:
        if not killed.is_set():
            killed.set()
            os.killpg(server.pid, signal.SIGKILL)

    def upload(i: int) -> None:
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/accounts/feedback/",
                headers={"Authorization": f"Bearer {token}"},
                data={"feedback_type": "bug_report", "subject": f"upload {i}", "message": "kill test"},
                files={"screenshot": (f"shot{i}.png", png, "image/png")}, timeout=60,
            )
            ok = response.status_code == 201
        except httpx.HTTPError:
            ok = False
        with lock:
            answered["ok" if ok else "failed"] += 1
            if answered["ok"] >= kill_after:
                kill()

    try:
        wait_for_port(port, timeout=60)
        with ThreadPoolExecutor(max_workers=args.uploads) as pool:
            list(pool.map(upload, range(args.uploads)))
        kill()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    out = subprocess.run([python, "manage.py", "shell", "-c", COUNT_SCRIPT], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return {"kill_after": kill_after, **answered, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=24)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--size-kb", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    args.uploads = max(2, min(args.uploads, 100))  # bounded load
    random.seed(args.seed)
    png = noisy_png(args.size_kb)
    print(f"{args.trials} trials x {args.uploads} concurrent uploads of a {len(png) // 1024} KB PNG, server SIGKILLed mid-way")
    print(f"{'trial':>5} {'killed after':>12} {'201':>4} {'lost':>4} {'rows':>5} {'files':>5} "
          f"{'orphans':>7} {'rows w/o file':>13} {'swept':>5} {'orphans after':>13}")
    totals = {"orphans": 0, "after": 0, "rows_without_file": 0, "uploads": 0}
    for n in range(1, args.trials + 1):
        r = trial(args, sys.executable, png)
        b, a = r["before"], r["after"]
        print(f"{n:>5} {r['kill_after']:>12} {r['ok']:>4} {r['failed']:>4} {b['rows']:>5} {b['files']:>5} "
              f"{b['orphans']:>7} {b['rows_without_file']:>13} {r['swept']:>5} {a['orphans']:>13}", flush=True)
        totals["orphans"] += b["orphans"]
        totals["after"] += a["orphans"]
        totals["rows_without_file"] += b["rows_without_file"]
        totals["uploads"] += args.uploads
    print(f"total: {totals['uploads']} uploads, {totals['orphans']} orphan files after the kills, "
          f"{totals['after']} after the sweep; {totals['rows_without_file']} rows pointing at a missing file")


if __name__ == "__main__":
    main()
