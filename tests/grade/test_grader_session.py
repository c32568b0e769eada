"""One pytest session over the graders, reused hand-in after hand-in, gives each the verdicts a fresh run gives it.

The hand-ins are real: the solutions, the stubs, hand-written mutants of each part and a hostile hand-in that
breaks the batched probe, graded back to back in one session in an order where each follows a different one.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo_paths import HOSTILE_SNIPPETS, REPO

from coursekit.check.checker import load_mutants, write_mutant_handin
from coursekit.config import Course
from coursekit.grade.engine import grade_handin
from coursekit.grade.preflight import GraderSetupError
from coursekit.grade.session import GraderSession
from coursekit.sandbox.pool import WorkerPool, course_probes_file


@pytest.fixture(autouse=True, scope="module")
def _forget_grader_modules() -> Iterator[None]:
    """The sessions here import the graders into this test process under their plain names (test_training, ...):
    forgotten afterwards, so that a later test's module of the same name is not mistaken for them."""
    yield
    for name, module in list(sys.modules.items()):
        if "graders" in Path(getattr(module, "__file__", None) or "/").parts:
            del sys.modules[name]


MUTANTS = ("calls-torch-tanh", "ignores-n-hidden", "missing-zero-grad", "plot-labels-swapped")


@pytest.fixture(scope="module")
def handins(tmp_path_factory: pytest.TempPathFactory, course: Course) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("handins")
    folders = {"solutions": root / "solutions", "stubs": root / "stubs"}
    shutil.copytree(REPO / "solutions", folders["solutions"], ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(folders["solutions"], folders["stubs"])
    for part in course.assignment.parts:
        shutil.copyfile(REPO / "exercises" / part.file, folders["stubs"] / part.file)
    mutants, problems = load_mutants(
        mutants_dir=REPO / "graders/mutants", course=course, solutions_dir=REPO / "solutions"
    )
    assert not problems
    for mutant in (m for m in mutants if m.name in MUTANTS):
        folders[mutant.name] = write_mutant_handin(
            mutant=mutant, solutions_dir=REPO / "solutions", data_dir=REPO / "data", target=root / mutant.name
        )
    assert len(folders) == 2 + len(MUTANTS)
    # Correct activations whose own process empties the batched probe's answers: judged call by call. A training
    # module whose every function leaves its worker's process: the next hand-in's session follows a dead worker.
    for snippet, module in (("patches_probe", "activations.py"), ("exits_at_call", "training.py")):
        folders[snippet] = root / snippet
        shutil.copytree(folders["solutions"], folders[snippet])
        spliced = folders[snippet] / module
        spliced.write_text(spliced.read_text() + "\n" + (HOSTILE_SNIPPETS / f"{snippet}.py").read_text())
    return folders


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory, course: Course) -> Iterator[WorkerPool]:
    limits = course.limits.model_copy(update={"time_seconds": 20})
    scratch = tmp_path_factory.mktemp("scratch")
    with WorkerPool(limits=limits, scratch_dir=scratch, slots=1, probes_file=course_probes_file(REPO, course)) as pool:
        yield pool


def _verdicts(handin: Path, pool: WorkerPool, graders: GraderSession | None = None) -> list[dict[str, object]]:
    result = grade_handin(student_id=handin.name, handin_dir=handin, course_dir=REPO, pool=pool, graders=graders)
    assert result.not_graded is None
    return [dataclasses.asdict(verdict) for verdict in result.verdicts]


def test_a_reused_session_gives_every_handin_the_verdicts_of_a_fresh_run(
    handins: dict[str, Path], pool: WorkerPool, course: Course
) -> None:
    fresh = {name: _verdicts(folder, pool) for name, folder in handins.items()}
    assert {verdict["score"] for verdict in fresh["stubs"]} == {0}
    assert all(verdict["passed"] for verdict in fresh["solutions"])
    assert {verdict["score"] for verdict in fresh["exits_at_call"] if verdict["part"] == "training"} == {0}
    # Each hand-in after one that failed different checks, and the solutions again after all of them.
    order = ["stubs", "solutions", *MUTANTS, "patches_probe", "exits_at_call", "solutions", "stubs"]
    graders = GraderSession(graders_dir=REPO / "graders", course=course)
    try:
        for name in order:
            assert _verdicts(handins[name], pool, graders) == fresh[name], name
    finally:
        graders.close()
    assert graders.closed


def test_graders_that_cannot_be_collected_are_the_courses_error_naming_the_file(tmp_path: Path, course: Course) -> None:
    graders = tmp_path / "graders"
    shutil.copytree(REPO / "graders", graders, ignore=shutil.ignore_patterns("__pycache__", "mutants"))
    (graders / "test_typo.py").write_text("import pytest\n\ndef test_typo(:\n    pass\n")
    with pytest.raises(GraderSetupError, match=r"test_typo\.py"):
        GraderSession(graders_dir=graders, course=course)


def test_graders_with_no_tests_are_the_courses_error(tmp_path: Path, course: Course) -> None:
    graders = tmp_path / "graders"
    graders.mkdir()
    shutil.copyfile(REPO / "graders" / "pytest.ini", graders / "pytest.ini")
    with pytest.raises(GraderSetupError, match="no grader tests were collected"):
        GraderSession(graders_dir=graders, course=course)


_TRUSTED_SIDE_MODULES = """
import shutil, sys, tempfile
from pathlib import Path
from coursekit.config import load_course
from coursekit.grade.engine import _warm_up, grade_handin
from coursekit.grade.session import GraderSession
from coursekit.sandbox.pool import WorkerPool, course_probes_file

repo = Path(sys.argv[1])
course = load_course(repo / "course.yml")
handin = Path(tempfile.mkdtemp()) / "solutions"
shutil.copytree(repo / "solutions", handin)
with WorkerPool(limits=course.limits, scratch_dir=Path(tempfile.mkdtemp()), slots=1,
                probes_file=course_probes_file(repo, course)) as pool:
    _warm_up(repo, course)
    graders = GraderSession(graders_dir=repo / "graders", course=course)
    result = grade_handin(student_id="s", handin_dir=handin, course_dir=repo, pool=pool, graders=graders)
print(sum(verdict.score for verdict in result.verdicts) == sum(verdict.max_score for verdict in result.verdicts))
print("torch._dynamo" in sys.modules)
"""


def test_the_trusted_side_grades_a_correct_handin_without_importing_torch_dynamo() -> None:
    """torch's optimizers import torch._dynamo at their first step, about a second of every `grade` and of every
    Gradescope run: the warm-up and the graders' replays of training never use them."""
    run = subprocess.run(
        [sys.executable, "-c", _TRUSTED_SIDE_MODULES, str(REPO)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    full_marks, imported_dynamo = run.stdout.split()
    assert full_marks == "True" and imported_dynamo == "False"
