"""Benchmark: what grading costs against its floor and against one `import torch`, side by side in one run.

Measured on this machine, in this run, one after the other:
  - the floor: every request the graders send for one correct hand-in, recorded once, then replayed by calling
    the probes directly in one process (no pytest, no wire, no sandbox, no worker): the student's own code and
    the probes around it;
  - `python -c "import torch"` (median of `--repeats` fresh processes), the unit the class targets are stated in;
  - `coursekit grade --jobs 1` on N and 2N correct hand-ins: the marginal serial work of one more hand-in;
  - `coursekit grade` (every core) on a class of N correct hand-ins, every start-up cost included;
  - one Gradescope `run_autograder` (the real autograder zip, unpacked into a stand-in /autograder) for one
    correct hand-in;
  - `coursekit check`;
  - stock `nbgrader autograde`, per notebook (with `--nbgrader N`; bench/grade_vs_nbgrader.py compares whole
    classes).
Every grading run must give every correct hand-in full marks, or the benchmark fails. With `--baseline REV`, the
kit as of git revision REV is measured beside it (grade, check and run_autograder), in the same run.

    .venv/bin/python bench/grading_cost.py --handins 40 --baseline 971142b
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODULES = ("activations.py", "model.py", "training.py")


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds


def _kit_env(kit: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(kit)}


def import_torch_seconds(repeats: int) -> float:
    return statistics.median(_run([sys.executable, "-c", "import torch"], cwd=REPO) for _ in range(repeats))


def floor_seconds(repeats: int) -> tuple[float, int]:
    """(seconds to replay one correct hand-in's requests directly, how many requests)."""
    import pytest

    from coursekit.sandbox import probes
    from coursekit.sandbox.student import InProcessStudent

    recorded: list[tuple[str, dict[str, Any]]] = []
    original = InProcessStudent.run

    def recording(self: InProcessStudent, probe: str, /, **arguments: Any) -> dict[str, Any]:
        recorded.append((probe, copy.deepcopy(arguments)))
        return original(self, probe, **arguments)

    InProcessStudent.run = recording  # type: ignore[method-assign]
    try:
        arguments = ["-c", str(REPO / "graders" / "pytest.ini"), "--rootdir", str(REPO / "graders")]
        arguments += ["-p", "coursekit.grade.plugin", "--course", str(REPO / "course.yml")]
        arguments += ["--handin", str(REPO / "solutions"), "-q", "-p", "no:cacheprovider", str(REPO / "graders")]
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            pytest.main(arguments)
    finally:
        InProcessStudent.run = original  # type: ignore[method-assign]
    handin = probes.Handin(REPO / "solutions")
    runs = []
    for _ in range(repeats):
        requests = copy.deepcopy(recorded)
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            started = time.perf_counter()
            for probe, kwargs in requests:
                probes._reset_random_state()
                # A grader may ask for a failure on purpose (a bad argument): it is still work.
                with contextlib.suppress(probes.StudentFailure):
                    probes.PROBES[probe](handin, **kwargs)
            runs.append(time.perf_counter() - started)
    return statistics.median(runs), len(recorded)


def _class(root: Path, n: int) -> Path:
    submissions = root / f"class-{n}"
    for index in range(n):
        target = submissions / f"student{index:03d}"
        target.mkdir(parents=True)
        for module in MODULES:
            shutil.copy2(REPO / "solutions" / module, target / module)
    return submissions


def grade_seconds(kit: Path, submissions: Path, out: Path, *, jobs: int | None) -> float:
    command = [sys.executable, "-m", "coursekit", "grade", str(submissions), "--out", str(out), "--force"]
    command += ["--course-dir", str(kit)] + ([] if jobs is None else ["--jobs", str(jobs)])
    seconds = _run(command, cwd=kit, env=_kit_env(kit))
    with (out / "grades.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    wrong = [row["student"] for row in rows if float(row["total"]) != float(row["max_total"])]
    if wrong or not rows:
        raise SystemExit(f"{kit}: less than full marks for correct hand-ins: {wrong[:5]}")
    return seconds


def check_seconds(kit: Path) -> float:
    return _run([sys.executable, "-m", "coursekit", "check", "--course-dir", str(kit)], cwd=kit, env=_kit_env(kit))


def gradescope_seconds(kit: Path, root: Path) -> float:
    """Wall time of one `run_autograder` for one correct hand-in (the zip is built outside the timing)."""
    dest = root / "zip"
    build = (
        "import sys; from pathlib import Path; from coursekit.export.gradescope import build_autograder_zip; "
        "print(build_autograder_zip(course_dir=Path(sys.argv[1]), dest=Path(sys.argv[2])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", build, str(kit), str(dest)], capture_output=True, text=True, env=_kit_env(kit)
    )
    if result.returncode != 0:
        raise SystemExit(f"building the autograder zip of {kit} failed:\n{result.stderr[-3000:]}")
    autograder = root / "autograder"
    with zipfile.ZipFile(result.stdout.strip().splitlines()[-1]) as archive:
        archive.extractall(autograder / "source")
    (autograder / "submission").mkdir()
    for module in MODULES:
        shutil.copy2(REPO / "solutions" / module, autograder / "submission" / module)
    env = {**_kit_env(kit), "AUTOGRADER_ROOT": str(autograder), "COURSEKIT_PYTHON": sys.executable}
    seconds = _run(["bash", str(autograder / "source" / "run_autograder")], cwd=autograder, env=env)
    results = json.loads((autograder / "results" / "results.json").read_text())
    tests = results.get("tests", [])
    if not tests or any(test.get("score") != test.get("max_score") for test in tests):
        raise SystemExit(f"{kit}: run_autograder gave a correct hand-in less than full marks")
    return seconds


def nbgrader_seconds_per_notebook(n: int, root: Path) -> float:
    import nbformat

    from coursekit.author.notebook import filled_notebook
    from coursekit.author.release import build_nbgrader_course
    from coursekit.config import load_course
    from coursekit.export.nbgrader import nbgrader_environment, run_nbgrader

    assignment = load_course(REPO / "course.yml").assignment.id
    course_root = root / "nbgrader"
    build_nbgrader_course(course_dir=REPO, out_dir=course_root)
    env = nbgrader_environment(jupyter_dir=root / "jupyter")
    run_nbgrader("generate_assignment", assignment, "--force", course_root=course_root, env=env)
    release = nbformat.read(course_root / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    filled = filled_notebook(release, course_dir=REPO)
    for index in range(n):
        target = course_root / "submitted" / f"student{index:03d}" / assignment
        target.mkdir(parents=True)
        nbformat.write(filled, target / f"{assignment}.ipynb")
    started = time.perf_counter()
    run_nbgrader("autograde", assignment, "--force", course_root=course_root, env=env)
    return (time.perf_counter() - started) / n


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


@contextlib.contextmanager
def _baseline(revision: str, temporary: Path) -> Iterator[Path]:
    tree = temporary / "baseline"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree), revision], check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)


def measure_kit(kit: Path, root: Path, *, handins: int) -> dict[str, float]:
    small, large = _class(root, handins // 2), _class(root, handins)
    serial_small = grade_seconds(kit, small, root / "out-serial-small", jobs=1)
    serial_large = grade_seconds(kit, large, root / "out-serial-large", jobs=1)
    return {
        "serial_per_handin_s": (serial_large - serial_small) / (handins - handins // 2),
        "class_s": grade_seconds(kit, large, root / "out-class", jobs=None),
        "gradescope_s": gradescope_seconds(kit, root / "gradescope"),
        "check_s": check_seconds(kit),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handins", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5, help="runs of `import torch` and of the floor")
    parser.add_argument("--nbgrader", type=int, default=0, help="notebooks for nbgrader autograde (0: skip)")
    parser.add_argument("--baseline", help="also measure the kit as of this git revision, in the same run")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    options = parser.parse_args()
    figures: dict[str, Any] = {"handins": options.handins}
    with tempfile.TemporaryDirectory(prefix="coursekit-cost-") as temporary, contextlib.ExitStack() as stack:
        root = Path(temporary)
        kits = {"kit": REPO}
        if options.baseline:
            kits[f"baseline {options.baseline}"] = stack.enter_context(_baseline(options.baseline, root))
        figures["import_torch_s"] = import_torch_seconds(options.repeats)
        figures["floor_s"], figures["requests"] = floor_seconds(options.repeats)
        for name, kit in kits.items():
            (root / name).mkdir()
            figures[name] = measure_kit(kit, root / name, handins=options.handins)
        if options.nbgrader:
            figures["nbgrader_per_notebook_s"] = nbgrader_seconds_per_notebook(options.nbgrader, root)
    torch_s, floor = figures["import_torch_s"], figures["floor_s"]
    for name in kits:
        kit = figures[name]
        kit["serial_vs_floor"] = kit["serial_per_handin_s"] / floor
        kit["class_per_handin_vs_import_torch"] = kit["class_s"] / options.handins / torch_s
        kit["gradescope_vs_import_torch"] = kit["gradescope_s"] / torch_s
    if options.baseline:
        baseline = figures[f"baseline {options.baseline}"]
        figures["check_vs_baseline"] = figures["kit"]["check_s"] / baseline["check_s"]
    text = json.dumps(_rounded(figures), indent=2)
    print(text)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "grading_cost.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
