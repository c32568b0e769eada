"""Gradescope: an autograder.zip that grades on Gradescope's fleet with the same graders and trust boundary.

The zip holds `setup.sh` (installs Python 3.11, bubblewrap and the pinned environment on Gradescope's Ubuntu 22.04
image), `run_autograder` (grades /autograder/submission and writes /autograder/results/results.json), the
coursekit package, course.yml, data/, the hidden graders and the kit's data loader — no solutions.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from coursekit.grading import grade_class
from coursekit.sandbox import SandboxUnavailable

AUTOGRADER_ZIP = "autograder.zip"
# Gradescope unpacks the zip into /autograder/source; tests point AUTOGRADER_ROOT at a stand-in folder.
SETUP_SH = """\
#!/usr/bin/env bash
# Runs once when Gradescope builds the autograder image (Ubuntu 22.04).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq software-properties-common bubblewrap
add-apt-repository -y ppa:deadsnakes/ppa
apt-get update -qq
apt-get install -y -qq python3.11 python3.11-venv
python3.11 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
/autograder/venv/bin/pip install --quiet /autograder/source
"""
RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $AUTOGRADER_ROOT/results/results.json.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
python="${COURSEKIT_PYTHON:-$root/venv/bin/python}"
cd "$root/source"
exec "$python" -m coursekit gradescope-run --root "$root" --course-dir "$root/source"
"""
# What the autograder needs from the course repository; nothing from solutions/ but the kit's data loader.
COURSE_FILES = ("course.yml", "pyproject.toml", "README.md", "solutions/temperature_data.py")
COURSE_DIRS = ("coursekit", "graders", "data")


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder_zip(*, course_dir: Path, dest: Path) -> Path:
    """Write Gradescope's autograder.zip for this course to `dest` (a folder or a .zip path); return its path."""
    path = dest / AUTOGRADER_ZIP if dest.suffix != ".zip" else dest
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        files = [course_dir / name for name in COURSE_FILES]
        for folder in COURSE_DIRS:
            files += [
                p
                for p in (course_dir / folder).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]
        for file in sorted(files):
            relative = file.relative_to(course_dir).as_posix()
            if relative.startswith("graders/mutants/"):
                continue  # mutants hold pieces of the solutions
            _add(archive, relative, file.read_bytes())
    path.write_bytes(buffer.getvalue())
    return path


def _submission_entry(submission_dir: Path, staging: Path) -> Path:
    """The hand-in inside Gradescope's submission folder: a lone .zip or .ipynb as is, else the folder."""
    files = [p for p in submission_dir.iterdir() if not p.name.startswith(".")]
    python_files = [p for p in files if p.suffix.lower() == ".py"]
    archives = [p for p in files if p.suffix.lower() in (".zip", ".ipynb")]
    if not python_files and len(archives) == 1:
        target = staging / f"submission{archives[0].suffix.lower()}"
        shutil.copy2(archives[0], target)
        return target
    target = staging / "submission"
    shutil.copytree(submission_dir, target, symlinks=True)
    return target


def grading_unavailable(reason: str) -> dict[str, object]:
    """results.json when no isolation tier that keeps the kit's promises runs in the container: no score is made up."""
    print(f"coursekit: not grading: {reason}")  # the autograder's stdout, which only staff see
    return {
        "score": 0,
        "output": (
            "Grading is unavailable right now: the autograder cannot isolate your code safely in this container. "
            "Your instructor has been told; your submission is kept and will be graded again."
        ),
        "output_format": "md",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"not_graded": "no isolation tier", "isolation_problem": reason},
    }


def run_gradescope_submission(*, root: Path, course_dir: Path) -> Path:
    """Grade `root`/submission as Gradescope does and write `root`/results/results.json; return its path."""
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coursekit-gradescope-") as temporary:
        staging = Path(temporary) / "submissions"
        staging.mkdir()
        entry = _submission_entry(root / "submission", staging)
        out = Path(temporary) / "out"
        try:
            # auto: bubblewrap, else the uid tier (Gradescope's containers run as root, without namespaces); it
            # refuses anything weaker, so a hand-in can never be graded where it could read the graders.
            report = grade_class(course_dir=course_dir, submissions_dir=staging, out_dir=out, jobs=1, force=True)
        except SandboxUnavailable as error:
            data = grading_unavailable(str(error))
        else:
            data = json.loads((out / "results" / f"{entry.stem}.json").read_text())
            # For the instructor (Gradescope shows extra_data to staff only), not the student.
            data.setdefault("extra_data", {})["isolation_note"] = report.isolation_note
    results_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return results_path
