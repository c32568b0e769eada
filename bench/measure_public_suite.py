"""Wall time of the public suite beside `python -c "import torch"`: 5 interleaved runs each, min / median / max.

    python bench/measure_public_suite.py RELEASE_FOLDER [OTHER_RELEASE_FOLDER ...]

Each folder is a released student folder (`coursekit release --out DIR` gives DIR/student) with the solutions
copied in, so every test passes. pytest runs as a student runs it: the venv's `pytest` script, no PYTHONPATH.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5


def main(folders: list[str]) -> None:
    python = sys.executable
    pytest_script = str(Path(python).parent / "pytest")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PYTEST"))}
    cases = {'python -c "import torch"': ([python, "-c", "import torch"], Path.cwd())}
    cases |= {f"pytest -q in {folder}": ([pytest_script, "-q"], Path(folder)) for folder in folders}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(RUNS):
        for name, (command, cwd) in cases.items():
            start = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed:\n{done.stdout[-2000:]}")
    for name, values in times.items():
        print(f"{name}: min {min(values):.2f} / median {statistics.median(values):.2f} / max {max(values):.2f} s")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main(sys.argv[1:])
