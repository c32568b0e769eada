"""Benchmark: `coursekit grade` against `nbgrader autograde` on the same class, side by side in one run.

Builds N copies of a correct hand-in — as .py folders and as notebooks filled in from nbgrader's own release —
then times, on this machine and in this run:
  - `python -c "import torch"` (the unit the per-hand-in target is stated in),
  - `coursekit grade` on the N folders and on the N notebooks (all cores), and on N/2 folders (for the marginal
    cost of one more hand-in),
  - stock `nbgrader autograde` on the N notebooks (nbgrader grades one at a time).
Every run must give every hand-in full marks, or the benchmark fails. Results: a table, and
bench/out/grade_vs_nbgrader.json.

    .venv/bin/python bench/grade_vs_nbgrader.py --handins 20
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from coursekit.author.notebook import filled_notebook  # noqa: E402
from coursekit.author.release import build_nbgrader_course  # noqa: E402
from coursekit.config import load_course  # noqa: E402
from coursekit.export.nbgrader import gradebook_scores, nbgrader_environment, run_nbgrader  # noqa: E402

MODULES = ("activations.py", "model.py", "training.py")


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - started


def _coursekit_grade(submissions: Path, out: Path, jobs: int) -> float:
    command = [sys.executable, "-m", "coursekit", "grade", str(submissions), "--out", str(out), "--force"]
    seconds = _timed([*command, "--jobs", str(jobs), "--course-dir", str(REPO)])
    with (out / "grades.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    wrong = [row["student"] for row in rows if float(row["total"]) != float(row["max_total"])]
    if wrong:
        raise SystemExit(f"coursekit gave less than full marks to correct hand-ins: {wrong[:5]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handins", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=0, help="coursekit's --jobs (default: all cores)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    options = parser.parse_args()
    n = options.handins
    jobs = options.jobs or len(__import__("os").sched_getaffinity(0))
    course = load_course(REPO / "course.yml")
    assignment = course.assignment.id
    console = Console()

    with tempfile.TemporaryDirectory(prefix="coursekit-bench-") as temporary:
        root = Path(temporary)
        course_root = root / "nbgrader"
        build_nbgrader_course(course_dir=REPO, out_dir=course_root)
        env = nbgrader_environment(jupyter_dir=root / "jupyter")
        run_nbgrader("generate_assignment", assignment, "--force", course_root=course_root, env=env)
        release = nbformat.read(course_root / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        filled = filled_notebook(release, course_dir=REPO)

        folders, notebooks, half = root / "folders", root / "notebooks", root / "half"
        for index in range(n):
            student = f"student{index:03d}"
            target = folders / student
            target.mkdir(parents=True)
            for module in MODULES:
                shutil.copy2(REPO / "solutions" / module, target / module)
            if index < n // 2:
                shutil.copytree(target, half / student)
            notebooks.mkdir(exist_ok=True)
            nbformat.write(filled, notebooks / f"{student}.ipynb")
            submitted = course_root / "submitted" / student / assignment
            submitted.mkdir(parents=True)
            nbformat.write(filled, submitted / f"{assignment}.ipynb")

        import_torch = statistics.median(_timed([sys.executable, "-c", "import torch"]) for _ in range(3))
        coursekit_half = _coursekit_grade(half, root / "out-half", jobs)
        coursekit_folders = _coursekit_grade(folders, root / "out-folders", jobs)
        coursekit_notebooks = _coursekit_grade(notebooks, root / "out-notebooks", jobs)
        nbgrader = run_nbgrader("autograde", assignment, "--force", course_root=course_root, env=env)
        students = [f"student{index:03d}" for index in range(n)]
        scores = gradebook_scores(course_root=course_root, assignment=assignment, students=students)
        if any(score != course.assignment.points for score in scores.values()):
            raise SystemExit(f"nbgrader gave less than full marks to correct notebooks: {scores}")

    marginal = (coursekit_folders - coursekit_half) / (n - n // 2)
    figures = {
        "handins": n,
        "jobs": jobs,
        "import_torch_s": round(import_torch, 3),
        "nbgrader_autograde_s": round(nbgrader, 2),
        "nbgrader_per_handin_s": round(nbgrader / n, 3),
        "coursekit_folders_s": round(coursekit_folders, 2),
        "coursekit_folders_per_handin_s": round(coursekit_folders / n, 3),
        "coursekit_notebooks_s": round(coursekit_notebooks, 2),
        "coursekit_notebooks_per_handin_s": round(coursekit_notebooks / n, 3),
        "coursekit_marginal_per_handin_s": round(marginal, 3),
        "throughput_vs_nbgrader_folders": round(nbgrader / coursekit_folders, 1),
        "throughput_vs_nbgrader_notebooks": round(nbgrader / coursekit_notebooks, 1),
        "marginal_per_handin_vs_import_torch": round(marginal / import_torch, 2),
    }
    table = Table(title=f"{n} correct hand-ins, this machine, one run")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    table.add_column("per hand-in", justify="right")
    table.add_row('python -c "import torch"', f"{import_torch:.2f}", "")
    table.add_row("nbgrader autograde (notebooks)", f"{nbgrader:.1f}", f"{nbgrader / n:.2f}")
    table.add_row(f"coursekit grade -j {jobs} (folders)", f"{coursekit_folders:.1f}", f"{coursekit_folders / n:.2f}")
    table.add_row(
        f"coursekit grade -j {jobs} (notebooks)", f"{coursekit_notebooks:.1f}", f"{coursekit_notebooks / n:.2f}"
    )
    table.add_row("coursekit, one more hand-in (marginal)", "", f"{marginal:.2f}")
    console.print(table)
    console.print(
        f"throughput: {figures['throughput_vs_nbgrader_folders']}x nbgrader (folders), "
        f"{figures['throughput_vs_nbgrader_notebooks']}x (notebooks); marginal cost per hand-in = "
        f"{figures['marginal_per_handin_vs_import_torch']} x one `import torch`"
    )
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "grade_vs_nbgrader.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
