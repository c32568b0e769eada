"""Benchmark: what the bubblewrap sandbox costs per hand-in, measured side by side in one run.

Grades the same N correct hand-ins with `--isolation bwrap` and `--isolation none`, alternating, `--rounds`
times each, and reports the median per hand-in of each and their difference.

    .venv/bin/python bench/sandbox_cost.py --handins 20 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ("activations.py", "model.py", "training.py")


def _grade(submissions: Path, out: Path, isolation: str) -> float:
    command = [sys.executable, "-m", "coursekit", "grade", str(submissions), "--out", str(out), "--force"]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, "--isolation", isolation, "--course-dir", str(REPO)], capture_output=True, text=True, cwd=REPO
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"coursekit grade --isolation {isolation} failed:\n{result.stdout}\n{result.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handins", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    options = parser.parse_args()
    seconds: dict[str, list[float]] = {"bwrap": [], "none": []}
    with tempfile.TemporaryDirectory(prefix="coursekit-sandbox-bench-") as temporary:
        submissions = Path(temporary) / "submissions"
        for index in range(options.handins):
            target = submissions / f"student{index:03d}"
            target.mkdir(parents=True)
            for module in MODULES:
                shutil.copy2(REPO / "solutions" / module, target / module)
        for _ in range(options.rounds):
            for isolation in ("bwrap", "none"):
                seconds[isolation].append(_grade(submissions, Path(temporary) / f"out-{isolation}", isolation))
    per_handin = {name: statistics.median(values) / options.handins for name, values in seconds.items()}
    figures = {
        "handins": options.handins,
        "rounds": options.rounds,
        "bwrap_runs_s": [round(v, 2) for v in seconds["bwrap"]],
        "none_runs_s": [round(v, 2) for v in seconds["none"]],
        "bwrap_per_handin_s": round(per_handin["bwrap"], 3),
        "none_per_handin_s": round(per_handin["none"], 3),
        "sandbox_cost_per_handin_s": round(per_handin["bwrap"] - per_handin["none"], 3),
    }
    print(json.dumps(figures, indent=2))
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "sandbox_cost.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
