"""Benchmark: the peak memory and wall time of one `run_autograder`, over its whole process tree.

Builds the autograder zip, unpacks it into a stand-in /autograder, hands in the solutions and runs
`run_autograder` in a fresh memory cgroup (v2, else v1), as Gradescope's container holds it. While it runs,
every 20 ms: the cgroup's anonymous and shared memory (what the OOM killer cannot reclaim), its page cache,
and the summed PSS of its processes (anonymous memory plus a share of the library pages in use). At the end:
the cgroup's own peak (memory.peak, or v1's memory.max_usage_in_bytes), which counts all the page cache it
charged, and the CPU time of the whole tree (what Gradescope's half a CPU by default turns into wall time).
`--limit-mb 768` runs it under Gradescope's default limit instead of none; `--python` names the interpreter
(a copy of the venv whose files were evicted from the page cache stands in for a fresh container).

    .venv/bin/python bench/gradescope_memory.py --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from coursekit.export.gradescope import build_autograder_zip  # noqa: E402

MODULES = ("activations.py", "model.py", "training.py")
MB = 1024 * 1024


def _own_cgroup() -> tuple[Path, str] | None:
    """(this process's memory cgroup folder, "v2" or "v1"), where a child group can be made in it."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            folder = Path("/sys/fs/cgroup") / path.lstrip("/")
            if "memory" in (folder / "cgroup.subtree_control").read_text(errors="ignore"):
                return folder, "v2"
        elif "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "v1"
    return None


def _own_v1_group(controller: str) -> Path | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    return None


@contextlib.contextmanager
def _fresh_group(parent: Path) -> Iterator[Path]:
    group = parent / f"coursekit-bench-{secrets.token_hex(6)}"
    group.mkdir()
    try:
        yield group
    finally:
        with contextlib.suppress(OSError):
            for pid in (group / "cgroup.procs").read_text().split():
                os.kill(int(pid), 9)
        time.sleep(0.2)
        with contextlib.suppress(OSError):
            group.rmdir()


@contextlib.contextmanager
def _cgroups(limit_mb: int | None) -> Iterator[tuple[Path, str, list[Path], Callable[[], float]]]:
    """(the memory group, "v2" or "v1", every group the command must join, its CPU seconds so far)."""
    found = _own_cgroup()
    if found is None:
        raise SystemExit("no memory cgroup can be made here: run as root on Linux with the memory controller")
    parent, version = found
    with contextlib.ExitStack() as stack:
        group = stack.enter_context(_fresh_group(parent))
        if limit_mb is not None:
            (group / ("memory.max" if version == "v2" else "memory.limit_in_bytes")).write_text(str(limit_mb * MB))
            if version == "v2":
                (group / "memory.swap.max").write_text("0")
        if version == "v2":

            def cpu_seconds() -> float:
                stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
                return int(stat["usage_usec"]) / 1e6

            yield group, version, [group], cpu_seconds
            return
        cpuacct_parent = _own_v1_group("cpuacct")
        if cpuacct_parent is None:
            yield group, version, [group], lambda: float("nan")
            return
        cpu_group = stack.enter_context(_fresh_group(cpuacct_parent))
        yield group, version, [group, cpu_group], lambda: int((cpu_group / "cpuacct.usage").read_text()) / 1e9


def _stat(group: Path) -> dict[str, int]:
    values = {}
    for line in (group / "memory.stat").read_text().splitlines():
        key, value = line.split()
        values[key] = int(value)
    return values


def _pss(pids: list[str]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total


def measure_once(autograder_zip: Path, *, python: str, limit_mb: int | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="coursekit-gradescope-bench-") as temporary:
        root = Path(temporary) / "autograder"
        with zipfile.ZipFile(autograder_zip) as archive:
            archive.extractall(root / "source")
        (root / "submission").mkdir()
        for module in MODULES:
            (root / "submission" / module).write_bytes((REPO / "solutions" / module).read_bytes())
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSEKIT_PYTHON": python}
        with _cgroups(limit_mb) as (group, version, groups, cpu_seconds):
            peaks = {"unreclaimable": 0, "cache": 0, "pss": 0, "processes": 0}
            done = threading.Event()

            def poll() -> None:
                while not done.is_set():
                    with contextlib.suppress(OSError, ValueError):
                        stat = _stat(group)
                        if version == "v2":
                            unreclaimable, cache = stat["anon"] + stat["shmem"], stat["file"] - stat["shmem"]
                        else:
                            unreclaimable, cache = stat["rss"] + stat["shmem"], stat["cache"] - stat["shmem"]
                        pids = (group / "cgroup.procs").read_text().split()
                        peaks["unreclaimable"] = max(peaks["unreclaimable"], unreclaimable)
                        peaks["cache"] = max(peaks["cache"], cache)
                        peaks["pss"] = max(peaks["pss"], _pss(pids))
                        peaks["processes"] = max(peaks["processes"], len(pids))
                    time.sleep(0.02)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            started = time.perf_counter()
            join = " && ".join(f"echo $$ > {g / 'cgroup.procs'}" for g in groups)
            result = subprocess.run(
                ["/bin/sh", "-c", f'{join} && exec bash "$0"', str(root / "source" / "run_autograder")],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            seconds = time.perf_counter() - started
            done.set()
            poller.join()
            peak_file = "memory.peak" if version == "v2" else "memory.max_usage_in_bytes"
            cgroup_peak = int((group / peak_file).read_text().split()[0]) if (group / peak_file).exists() else 0
            cpu = cpu_seconds()
        if result.returncode != 0:
            raise SystemExit(f"run_autograder failed:\n{result.stdout}\n{result.stderr}")
        score = json.loads((root / "results" / "results.json").read_text())["score"]
    return {
        "score": score,
        "wall_s": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "cgroup_peak_mb": round(cgroup_peak / MB),
        "unreclaimable_peak_mb": round(peaks["unreclaimable"] / MB),
        "page_cache_peak_mb": round(peaks["cache"] / MB),
        "pss_peak_mb": round(peaks["pss"] / MB),
        "processes_peak": peaks["processes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit-mb", type=int, default=None, help="run under this cgroup memory limit")
    parser.add_argument("--python", default=sys.executable, help="the Python run_autograder uses")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coursekit-gradescope-zip-") as temporary:
        autograder_zip = build_autograder_zip(course_dir=REPO, dest=Path(temporary))
        runs = [
            measure_once(autograder_zip, python=options.python, limit_mb=options.limit_mb) for _ in range(options.runs)
        ]
    summary = {
        key: {
            "min": min(run[key] for run in runs),
            "median": statistics.median(run[key] for run in runs),
            "max": max(run[key] for run in runs),
        }
        for key in ("wall_s", "cpu_s", "cgroup_peak_mb", "unreclaimable_peak_mb", "page_cache_peak_mb", "pss_peak_mb")
    }
    figures = {"limit_mb": options.limit_mb, "runs": runs, "summary": summary}
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "gradescope_memory.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
