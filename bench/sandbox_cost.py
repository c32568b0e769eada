"""Benchmark: what each isolation tier costs per hand-in, measured side by side in one run.

Grades the same N correct hand-ins with every tier this machine offers (`bwrap`; `uid` when run as root, forced by
a stand-in `bwrap` that fails as it does under Docker; `none`), alternating, `--rounds` times each, and reports
the median per hand-in of each. `--baseline REV` grades them with the kit as of git revision REV too (its bwrap
tier, from a temporary worktree), so that the cost of changes to the sandbox is measured beside it, in the same
run, on the same machine.

    .venv/bin/python bench/sandbox_cost.py --handins 20 --rounds 3 --baseline f2e7b9c
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ("activations.py", "model.py", "training.py")
DOCKER_BWRAP = "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"


def _grade(submissions: Path, out: Path, *, isolation: str, kit: Path, environment: dict[str, str]) -> float:
    command = [sys.executable, "-m", "coursekit", "grade", str(submissions), "--out", str(out), "--force"]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, "--isolation", isolation, "--course-dir", str(kit)],
        capture_output=True,
        text=True,
        cwd=kit,
        env=environment,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"coursekit grade --isolation {isolation} ({kit}) failed:\n{result.stdout}\n{result.stderr}")
    return seconds


@contextlib.contextmanager
def _baseline(revision: str, temporary: Path) -> Iterator[Path]:
    tree = temporary / "baseline"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), revision], check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handins", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="also grade with the kit as of this git revision (bwrap tier)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="coursekit-sandbox-bench-") as temporary_name,
        contextlib.ExitStack() as stack,
    ):
        temporary = Path(temporary_name)
        submissions = temporary / "submissions"
        for index in range(options.handins):
            target = submissions / f"student{index:03d}"
            target.mkdir(parents=True)
            for module in MODULES:
                shutil.copy2(REPO / "solutions" / module, target / module)
        here = {**os.environ, "PYTHONPATH": str(REPO)}
        runs: dict[str, tuple[str, Path, dict[str, str]]] = {"bwrap": ("bwrap", REPO, here)}
        if os.geteuid() == 0:
            stand_in = temporary / "docker-bin"
            stand_in.mkdir()
            (stand_in / "bwrap").write_text(DOCKER_BWRAP)
            (stand_in / "bwrap").chmod(0o755)
            runs["uid"] = ("uid", REPO, {**here, "PATH": f"{stand_in}:{os.environ['PATH']}"})
        runs["none"] = ("none", REPO, here)
        if options.baseline:
            tree = stack.enter_context(_baseline(options.baseline, temporary))
            runs[f"baseline {options.baseline} bwrap"] = ("bwrap", tree, {**os.environ, "PYTHONPATH": str(tree)})
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(options.rounds):
            for name, (isolation, kit, environment) in runs.items():
                out = temporary / f"out-{len(seconds[name])}-{name.replace(' ', '-')}"
                seconds[name].append(_grade(submissions, out, isolation=isolation, kit=kit, environment=environment))
    figures = {
        "handins": options.handins,
        "rounds": options.rounds,
        "runs_s": {name: [round(v, 2) for v in values] for name, values in seconds.items()},
        "per_handin_s": {
            name: round(statistics.median(values) / options.handins, 3) for name, values in seconds.items()
        },
    }
    print(json.dumps(figures, indent=2))
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "sandbox_cost.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
