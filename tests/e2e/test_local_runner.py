"""`bcjourney run` as a process a user can trust: one run at a time on a lake, and no worker outliving its run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bcjourney_tools.generate import generate
from bcjourney_tools.local.runner import lake_lock


def test_a_second_run_on_the_same_lake_waits_for_the_first_and_says_so(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, days=1, per_day=200, seed=1)
    lake.mkdir()
    with lake_lock(lake):  # the first run, as far as the second can tell
        second = subprocess.Popen([sys.executable, "-m", "bcjourney_tools.cli", "run", "--landing", str(landing),
                                   "--lake", str(lake), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        said = second.stderr.readline()  # printed, flushed, before it blocks on the lock
        assert "is using" in said and "waiting for it to finish" in said, said
        time.sleep(1)
        assert second.poll() is None  # still waiting, nothing written
        assert not (lake / "unified").exists()
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0 and "registrations linked" in out


WORKERS = """
import time
from bcjourney_tools.local.runner import worker_pool
pool = worker_pool(2, "fork")
futures = [pool.submit(time.sleep, 120) for _ in range(2)]
time.sleep(1)
print(" ".join(str(pid) for pid in pool._processes), flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def test_match_workers_end_when_their_run_is_killed():
    run = subprocess.Popen([sys.executable, "-c", WORKERS], stdout=subprocess.PIPE, text=True)
    pids = [int(pid) for pid in run.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    run.kill()  # SIGKILL: the run gets no chance to clean up
    run.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _alive(pid)]
