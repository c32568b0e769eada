"""Running the stock nbgrader CLI on a built course, with a private Jupyter set-up (tests and benchmarks).

Nothing global changes: the kernelspec, Jupyter's data/config/runtime folders, IPython's and matplotlib's
folders all live under `jupyter_dir`, and the kernel is this Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def nbgrader_environment(*, jupyter_dir: Path) -> dict[str, str]:
    """Environment variables for nbgrader with a `python3` kernel that is this interpreter."""
    kernel_dir = jupyter_dir / "data" / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (coursekit)",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        # nbgrader's gradebook runs `alembic` from PATH.
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_DATA_DIR": str(jupyter_dir / "data"),
        "JUPYTER_PATH": str(jupyter_dir / "data"),
        "JUPYTER_CONFIG_DIR": str(jupyter_dir / "config"),
        "JUPYTER_RUNTIME_DIR": str(jupyter_dir / "runtime"),
        "IPYTHONDIR": str(jupyter_dir / "ipython"),
        "MPLCONFIGDIR": str(jupyter_dir / "matplotlib"),
    }


def run_nbgrader(*args: str, course_root: Path, env: dict[str, str], timeout: float = 1800) -> float:
    """Run `nbgrader ARGS...` in `course_root`; return the seconds it took; raise with its output on failure."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), *args],
        cwd=course_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def gradebook_scores(*, course_root: Path, assignment: str, students: list[str]) -> dict[str, float]:
    """Each student's total score in nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    previous = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{previous}"
    try:
        with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gradebook:
            return {student: float(gradebook.find_submission(assignment, student).score) for student in students}
    finally:
        os.environ["PATH"] = previous
