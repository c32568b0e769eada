"""Gradescope: an autograder.zip that grades on Gradescope's fleet with the same graders and trust boundary.

The zip holds `setup.sh` (installs Python 3.11, bubblewrap and the pinned environment on Gradescope's Ubuntu 22.04
image: torch's CPU-only build from PyTorch's index, the rest from PyPI, no Jupyter; then prints the isolation tier
the image gives student code), `run_autograder` (grades /autograder/submission and writes
/autograder/results/results.json), the coursekit package, course.yml, the modules given to every student, the
data, and the hidden graders with the chapter's own code (graders/, without the mutants) — no solutions.

Gradescope's /autograder/submission_metadata.json gives the submission time (``created_at``) and the due date
(``assignment.due_date``, or a member's own ``users[].assignment.due_date`` where Gradescope gives one, the latest
of them): `submission_lateness` turns them into days late, and course.yml's late policy applies to the run exactly
as in ``coursekit grade`` (the run grades through the same late.csv).

Gradescope's container has little memory (768 MB by default): `run_gradescope_submission` reads the container's
limit and lowers the student's and the grading process's memory budgets to fit in it, so that the kit's own
limits stop a hand-in before the container's OOM killer stops the run.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import re
import shlex
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from coursekit.config import Limits, kit_pyproject, load_course
from coursekit.errors import CoursekitError
from coursekit.grade.late import days_late
from coursekit.intake.collect import ON_TIME, Lateness, write_late_csv
from coursekit.sandbox.bwrap import SandboxUnavailable, package_dir
from coursekit.sandbox.pool import WorkerPool, course_probes_file

AUTOGRADER_ZIP = "autograder.zip"
# Where Gradescope unpacks the zip; tests point AUTOGRADER_ROOT at a stand-in folder instead of /autograder.
AUTOGRADER_SOURCE = "/autograder/source"
# Gradescope has no GPU: torch's default Linux build from PyPI would bring CUDA's libraries (19 packages, gigabytes).
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYPI_INDEX = "https://pypi.org/simple"
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
# torch's CPU-only build from PyTorch's index, everything else from PyPI at pyproject.toml's pins; the kit
# without its nbgrader extra, so no Jupyter.
/autograder/venv/bin/pip install --quiet --no-cache-dir {install_arguments}
# The isolation tier this image gives student code, into the build log; a weak tier must not stop the build.
/autograder/venv/bin/python -m coursekit isolation || echo "coursekit isolation could not run (exit code $?)"
"""
RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $AUTOGRADER_ROOT/results/results.json.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
python="${COURSEKIT_PYTHON:-$root/venv/bin/python}"
cd "$root/source"
# A container gets a fraction of a CPU while the host's cores are all visible: one thread per pool on the
# trusted side too (the sandbox sets its own), instead of one per host core, each with its memory.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
exec "$python" -m coursekit gradescope-run --root "$root" --course-dir "$root/source"
"""
# What the autograder needs from the course repository beyond what course.yml names (the given modules, the data)
# and the graders; nothing from solutions/.
COURSE_FILES = ("course.yml",)
# What pip builds the kit from, beside its package (pyproject.toml names README.md as the kit's readme).
KIT_FILES = ("pyproject.toml", "README.md")
COURSE_DIRS = ("graders",)
# Pieces of the solutions, for `coursekit check`: never in the autograder.
MUTANTS_DIR = "graders/mutants"

# What one run_autograder of a correct hand-in keeps resident at its peak, besides what the student's code
# allocates: bench/gradescope_memory.py measured 571-647 MB of PSS (its anonymous memory, 532-612 MB, and the
# libraries' pages in use; the rest of the page cache it reads is reclaimed under a limit). Rounded up.
KIT_MEMORY_MB = 650
# The least each budget gets, whatever the container. A correct hand-in grows by a few MB in each (it scores
# 100 with 2 MB for its code and 4 MB for its grading process); a grading process decodes answers of up to
# 16 MiB (coursekit.sandbox.wire).
MIN_STUDENT_MEMORY_MB = 32
MIN_GRADING_MEMORY_MB = 64


SUBMISSION_METADATA = "submission_metadata.json"
# previous_submissions holds every earlier attempt's results; a few MB covers hundreds of them.
MAX_METADATA_BYTES = 16 * 1024 * 1024


class AutograderSourceError(CoursekitError, ValueError):
    """pyproject.toml does not say which torch the autograder must install."""


def torch_cpu_requirement(pyproject: Path) -> str:
    """torch's CPU-only build at pyproject.toml's pin: ``torch==2.13.0+cpu`` for ``torch==2.13.0``.

    The ``+cpu`` local version matches only PyTorch's CPU wheels, so pip cannot fall back to the CUDA build.
    """
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    for dependency in dependencies:
        match = re.fullmatch(r"torch\s*==\s*([0-9][0-9A-Za-z.]*)(?:\+[0-9A-Za-z.]+)?", dependency.strip())
        if match:
            return f"torch=={match.group(1)}+cpu"
    raise AutograderSourceError(
        f"{pyproject}: torch must be pinned exactly (torch==X.Y.Z) for the autograder to install its CPU build"
    )


def autograder_install_arguments(*, source: str, pyproject: Path) -> list[str]:
    """pip's arguments for the autograder's environment: the indexes, torch's CPU build, the kit without extras.

    PyPI is an extra index: pip takes each package's best match from either, and only PyTorch's index has
    a ``+cpu`` torch.
    """
    return [
        "--index-url",
        PYTORCH_CPU_INDEX,
        "--extra-index-url",
        PYPI_INDEX,
        torch_cpu_requirement(pyproject),
        source,
    ]


def setup_sh(*, pyproject: Path) -> str:
    """Gradescope's setup.sh for a course whose pins are in `pyproject`."""
    arguments = autograder_install_arguments(source=AUTOGRADER_SOURCE, pyproject=pyproject)
    return SETUP_SH.format(install_arguments=shlex.join(arguments))


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
        _add(archive, "setup.sh", setup_sh(pyproject=kit_pyproject()).encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        for relative, file in sorted(autograder_files(course_dir=course_dir).items()):
            _add(archive, relative, file.read_bytes())
    path.write_bytes(buffer.getvalue())
    return path


def _tree(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]


def autograder_files(*, course_dir: Path) -> dict[str, Path]:
    """What the autograder zip carries, by its path in the zip: the kit's package, the course files, course.yml's
    given modules and data, and graders/ without the mutants."""
    course = load_course(course_dir / "course.yml")
    files = {name: course_dir / name for name in COURSE_FILES}
    files |= {name: course_dir / name for name in [*course.given, *course.data]}
    for folder in COURSE_DIRS:
        files |= {path.relative_to(course_dir).as_posix(): path for path in _tree(course_dir / folder)}
    # The kit as it runs here, and the files pip builds it from: a course outside the kit's repository carries them
    # all the same.
    package = package_dir()
    files |= {f"coursekit/{path.relative_to(package).as_posix()}": path for path in _tree(package)}
    files |= {name: kit_pyproject().parent / name for name in KIT_FILES}
    return {name: path for name, path in files.items() if not name.startswith(f"{MUTANTS_DIR}/")}


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


def grading_unavailable(reason: str) -> dict[str, Any]:
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


# A cgroup v1 limit this large (the page counter's maximum, rounded to pages) means none was set.
_NO_V1_LIMIT = 1 << 60


def container_memory_limit_mb(
    *, proc_cgroup: Path = Path("/proc/self/cgroup"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """The memory limit this process runs under, in MB: the least of its cgroup's and every enclosing one's
    (v2 ``memory.max``, v1 ``memory.limit_in_bytes``); None when there is none or it cannot be read.

    Docker shows a container its own cgroup at the root of /sys/fs/cgroup, while /proc/self/cgroup may name it
    by its host path: every existing folder from that path up to the root is read.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    found: list[int] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            mount, name = cgroup_root, "memory.max"
        elif "memory" in controllers.split(","):
            mount, name = cgroup_root / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = mount / path.lstrip("/")
        for candidate in (folder, *folder.parents):
            if not candidate.is_relative_to(mount):
                break
            try:
                text = (candidate / name).read_text().strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < _NO_V1_LIMIT:
                found.append(int(text) // (1024 * 1024))
    return min(found) if found else None


def limits_within_container(limits: Limits, *, container_mb: int | None) -> tuple[Limits, str | None]:
    """`limits`, with the student's and the grading process's memory budgets lowered to fit `container_mb`
    beside the kit's own KIT_MEMORY_MB; and a line for the instructor when they were lowered.

    Both budgets are address space beyond what each process has mapped at its start, so together they bound
    what a hand-in can add: within them, a hand-in that allocates without end gets a MemoryError in its own
    part instead of the container's OOM killer ending the run.
    """
    if container_mb is None:
        return limits, None
    headroom = container_mb - KIT_MEMORY_MB
    if limits.memory_mb + limits.grading_memory_mb <= headroom:
        return limits, None
    grading = min(limits.grading_memory_mb, max(MIN_GRADING_MEMORY_MB, headroom // 3))
    student = min(limits.memory_mb, max(MIN_STUDENT_MEMORY_MB, headroom - grading))
    note = (
        f"the container's memory limit is {container_mb} MB and the kit takes about {KIT_MEMORY_MB} MB: student "
        f"code may allocate {student} MB per part and a grading process {grading} MB (course.yml: "
        f"{limits.memory_mb} and {limits.grading_memory_mb} MB)"
    )
    if student + grading > headroom:
        least = KIT_MEMORY_MB + MIN_STUDENT_MEMORY_MB + MIN_GRADING_MEMORY_MB
        note += f"; a hand-in can still exhaust the container: give the autograder at least {least} MB on Gradescope"
    return limits.model_copy(update={"memory_mb": student, "grading_memory_mb": grading}), note


def _timestamp(value: object) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    # Gradescope writes offsets; a bare time would compare wrongly with one.
    return moment if moment.tzinfo is not None else None


def submission_lateness(metadata_path: Path) -> tuple[Lateness, str | None]:
    """How late Gradescope says this submission is (whole days begun after its due date), and a line for the log
    when that cannot be read: on time then, since no penalty is taken on a guess."""
    try:
        with metadata_path.open("rb") as file:
            data = file.read(MAX_METADATA_BYTES + 1)
    except OSError as error:
        return ON_TIME, f"{metadata_path}: cannot read ({error.strerror}): graded as on time"
    if len(data) > MAX_METADATA_BYTES:
        return ON_TIME, f"{metadata_path}: larger than {MAX_METADATA_BYTES} bytes: graded as on time"
    try:
        metadata = json.loads(data)
    except ValueError as error:
        return ON_TIME, f"{metadata_path}: not JSON ({error}): graded as on time"
    if not isinstance(metadata, dict):
        return ON_TIME, f"{metadata_path}: not a JSON object: graded as on time"
    submitted = _timestamp(metadata.get("created_at"))
    assignment = metadata.get("assignment")
    due = _timestamp(assignment.get("due_date")) if isinstance(assignment, dict) else None
    users = metadata.get("users")
    # A member's own due date (an extension) where Gradescope gives one; the latest, for a group.
    own = [
        _timestamp(user["assignment"].get("due_date"))
        for user in (users if isinstance(users, list) else [])
        if isinstance(user, dict) and isinstance(user.get("assignment"), dict)
    ]
    own_dates = [moment for moment in own if moment is not None]
    if own_dates:
        due = max(own_dates)
    if submitted is None or due is None:
        return ON_TIME, f"{metadata_path}: no created_at or due date with a time zone: graded as on time"
    days = days_late((submitted - due).total_seconds())
    return (Lateness(late=True, days_late=days) if days > 0 else ON_TIME), None


@dataclasses.dataclass(frozen=True)
class GradescopeRun:
    """What one run_autograder did, for its log (staff only): where the results went, the isolation, the memory."""

    results_path: Path
    isolation: str
    memory_note: str | None
    lateness_note: str | None = None


def run_gradescope_submission(*, root: Path, course_dir: Path) -> GradescopeRun:
    """Grade `root`/submission as Gradescope does and write `root`/results/results.json.

    Gradescope grades one hand-in per container, so its student waits for every start-up cost: the sandboxed
    worker starts first, before this process imports the grading engine (torch, pytest, the graders), and the
    two share the container's cores instead of following one another.
    """
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    course = load_course(course_dir / "course.yml")
    limits, memory_note = limits_within_container(course.limits, container_mb=container_memory_limit_mb())
    with tempfile.TemporaryDirectory(prefix="coursekit-gradescope-") as temporary:
        staging = Path(temporary) / "submissions"
        staging.mkdir()
        entry = _submission_entry(root / "submission", staging)
        # Through late.csv, as coursekit grade reads it: the late policy applies here as there.
        lateness, lateness_note = submission_lateness(root / SUBMISSION_METADATA)
        write_late_csv(staging, {entry.stem: lateness})
        out = Path(temporary) / "out"
        data: dict[str, Any]
        note: str | None
        try:
            # auto: bubblewrap, else the uid tier (Gradescope's containers run as root, without namespaces); it
            # refuses anything weaker, so a hand-in can never be graded where it could read the graders.
            with WorkerPool(
                limits=limits,
                scratch_dir=Path(temporary) / "workers",
                slots=1,
                probes_file=course_probes_file(course_dir, course),
            ) as pool:
                pool.start()
                from coursekit.grade.engine import grade_class
                from coursekit.grade.results import read_results_json, results_json_path

                report = grade_class(course_dir=course_dir, submissions_dir=staging, out_dir=out, force=True, pool=pool)
        except SandboxUnavailable as error:
            data = grading_unavailable(str(error))
            note = f"not graded: {error}"
        else:
            data = read_results_json(results_json_path(out, entry.stem))
            note = report.isolation_note
    # For the instructor (Gradescope shows extra_data to staff only), not the student.
    extra = data.setdefault("extra_data", {})
    isolation = str(extra.get("isolation") or "none")
    extra["isolation_note"] = note
    extra["memory"] = {"student_mb": limits.memory_mb, "grading_mb": limits.grading_memory_mb, "note": memory_note}
    results_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return GradescopeRun(
        results_path=results_path, isolation=isolation, memory_note=memory_note, lateness_note=lateness_note
    )
