"""`coursekit grade` end to end: a real class folder, real zips and notebooks, real malicious hand-ins.

One batch is graded once (module fixture) and every assertion reads its files, as an instructor would.
The trust-boundary cases each grade a hand-in whose attack runs in the student's own process; each must score
exactly what the unmodified stubs score, and every other student keeps exactly their score.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from repo_paths import HOSTILE_SNIPPETS, REPO

from coursekit.config import load_course
from coursekit.grade.engine import ClassReport, grade_class, grade_folders

MALICIOUS = HOSTILE_SNIPPETS
MODULES = ("activations.py", "model.py", "training.py")
COURSE = load_course(REPO / "course.yml")
FULL = {part.id: part.points for part in COURSE.assignment.parts}
# borrows_reference scans the sandbox's whole disk for a solutions/ folder until its time runs out.
LIMITS = COURSE.limits.model_copy(update={"time_seconds": 8})
ZERO = dict.fromkeys(FULL, 0.0)
# Correct activations that call torch's own through ways around the probe's operator recorder.
RECORDER_ATTACKS = ("evades_recorder", "patches_recorder", "patches_probe")


def _write_handin(folder: Path, sources: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, text in sources.items():
        (folder / name).write_text(text, encoding="utf-8")


def _sources(origin: str) -> dict[str, str]:
    return {name: (REPO / origin / name).read_text(encoding="utf-8") for name in MODULES}


def _attack(prefix: str = "", suffix: str = "", only: tuple[str, ...] = MODULES, base: str = "exercises") -> dict:
    sources = _sources(base)
    for name in only:
        before = (MALICIOUS / prefix).read_text() + "\n" if prefix else ""
        after = "\n" + (MALICIOUS / suffix).read_text() if suffix else ""
        sources[name] = before + sources[name] + after
    return sources


def _notebook(sources: dict[str, str]) -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Chapter 6")]
    notebook.cells += [nbformat.v4.new_code_cell(text) for text in sources.values()]
    return nbformat.writes(notebook).encode()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClassReport, Path, Path]:
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    submissions.mkdir()
    _write_handin(submissions / "solutions_folder", _sources("solutions"))
    with zipfile.ZipFile(submissions / "solutions_zip.zip", "w") as archive:
        for name, text in _sources("solutions").items():
            archive.writestr(f"chapter6/{name}", text)
        archive.writestr("__MACOSX/chapter6/._model.py", b"\x00\x05\x16\x07")
        archive.writestr("chapter6/.DS_Store", b"\x00\x00\x00\x01Bud1")
    (submissions / "solutions_notebook.ipynb").write_bytes(_notebook(_sources("solutions")))
    _write_handin(submissions / "stubs", _sources("exercises"))
    (submissions / "truncated.zip").write_bytes(b"PK\x03\x04 this zip was cut off in the upload")
    broken_model = _sources("solutions")
    broken_model["model.py"] = broken_model["model.py"].replace(
        "def forward(self, x: Tensor) -> Tensor:", "def forward(self, x"
    )
    _write_handin(submissions / "syntax_error", broken_model)
    _write_handin(submissions / "patches_its_process", _attack(prefix="patch_everything.py"))
    _write_handin(submissions / "always_equal_tensors", _attack(suffix="always_equal.py", only=("activations.py",)))
    _write_handin(submissions / "exits_at_import", _attack(prefix="exits.py"))
    _write_handin(submissions / "exits_at_call", _attack(suffix="exits_at_call.py"))
    _write_handin(
        submissions / "made_up_history",
        _attack(suffix="made_up_history.py", only=("training.py",), base="solutions"),
    )
    _write_handin(submissions / "borrows_reference", _attack(prefix="borrows_reference.py"))
    for attack in RECORDER_ATTACKS:
        _write_handin(submissions / attack, _attack(suffix=f"{attack}.py", only=("activations.py",), base="solutions"))
    _write_handin(submissions / "forges_probes", _attack(prefix="forges_probes.py"))
    _write_handin(
        submissions / "forges_forward_calls",
        _attack(suffix="forges_forward_calls.py", only=("training.py",), base="solutions"),
    )
    out = root / "out"
    report = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=out, jobs=2, limits=LIMITS)
    return report, submissions, out


def _scores(out: Path) -> dict[str, dict[str, float]]:
    with (out / "grades.csv").open(newline="") as file:
        return {row["student"]: {part: float(row[part]) for part in FULL} for row in csv.DictReader(file)}


def test_every_student_has_a_row_and_a_results_file(graded: tuple[ClassReport, Path, Path]) -> None:
    _, submissions, out = graded
    students = {path.name.split(".")[0] for path in submissions.iterdir()}
    assert set(_scores(out)) == students
    assert {path.stem for path in (out / "results").glob("*.json")} == students
    assert {path.stem for path in (out / "feedback").glob("*.md")} == students


@pytest.mark.parametrize("student", ["solutions_folder", "solutions_zip", "solutions_notebook"])
def test_the_reference_gets_full_marks_in_any_container(graded: tuple, student: str) -> None:
    assert _scores(graded[2])[student] == FULL


def test_the_stubs_get_zero(graded: tuple) -> None:
    assert _scores(graded[2])["stubs"] == ZERO


def test_a_broken_module_costs_only_its_part(graded: tuple) -> None:
    _, _, out = graded
    assert _scores(out)["syntax_error"] == {**FULL, "model": 0.0}
    results = json.loads((out / "results" / "syntax_error.json").read_text())
    assert "model.py: SyntaxError at line" in results["output"]


def test_a_truncated_zip_is_a_zero_with_a_reason(graded: tuple) -> None:
    _, _, out = graded
    assert _scores(out)["truncated"] == ZERO
    results = json.loads((out / "results" / "truncated.json").read_text())
    assert "zip" in results["output"].lower()


@pytest.mark.parametrize(
    ("student", "attacked"),
    [
        ("patches_its_process", ("activations", "model", "training")),
        ("always_equal_tensors", ("activations",)),
        ("exits_at_import", ("activations", "model", "training")),
        ("exits_at_call", ("activations", "model", "training")),
        ("borrows_reference", ("activations", "model", "training")),
        ("forges_probes", ("activations", "model", "training")),
    ],
)
def test_an_attack_scores_what_the_stubs_score(graded: tuple, student: str, attacked: tuple[str, ...]) -> None:
    scores = _scores(graded[2])
    for part in attacked:
        assert scores[student][part] == scores["stubs"][part], part


def _tests(out: Path, student: str) -> list[dict]:
    tests: list[dict] = json.loads((out / "results" / f"{student}.json").read_text())["tests"]
    return tests


@pytest.mark.parametrize("student", RECORDER_ATTACKS)
def test_hiding_torchs_activations_from_the_recorder_earns_no_elementary_points(graded: tuple, student: str) -> None:
    """Each scores what a plain torch.tanh user scores: every value and gradient point, no elementary point."""
    _, _, out = graded
    scores = _scores(out)
    elementary = [t for t in _tests(out, student) if "elementary operations" in t["name"]]
    assert len(elementary) == 6 and all(t["status"] == "failed" for t in elementary), elementary
    assert scores[student] == {**FULL, "activations": FULL["activations"] - sum(t["max_score"] for t in elementary)}


def test_a_forged_record_of_forward_calls_earns_no_validation_point(graded: tuple) -> None:
    """A loop whose validation loss takes part in the gradient, with a record rewritten to a correct loop's."""
    _, _, out = graded
    scores = _scores(out)
    assert scores["forges_forward_calls"]["activations"] == FULL["activations"]
    assert scores["forges_forward_calls"]["model"] == FULL["model"]
    loop = {t["name"]: t["status"] for t in _tests(out, "forges_forward_calls") if t["number"] == "3.2"}
    validation = [name for name in loop if "torch.no_grad()" in name]
    assert len(validation) == 1 and loop[validation[0]] == "failed", loop
    others = [t for t in _tests(out, "forges_forward_calls") if t["number"] in ("3.1", "3.3")]
    assert others and all(t["status"] == "passed" for t in others)


def test_a_made_up_history_earns_no_trajectory_points(graded: tuple) -> None:
    _, _, out = graded
    scores = _scores(out)
    assert scores["made_up_history"]["activations"] == FULL["activations"]
    assert scores["made_up_history"]["model"] == FULL["model"]
    results = json.loads((out / "results" / "made_up_history.json").read_text())
    loop_tests = [t for t in results["tests"] if t["number"] == "3.2"]
    assert loop_tests and all(t["status"] == "failed" for t in loop_tests)


def test_feedback_never_shows_the_graders_code(graded: tuple) -> None:
    _, _, out = graded
    grader_lines = {
        line.strip()
        for path in (REPO / "graders").glob("test_*.py")
        for line in path.read_text().splitlines()
        # Code, not a hint: a line that is only a string literal is a message written for the student.
        if len(line.strip()) > 30 and not line.strip().startswith(('"""', "#", "@pytest", '"', "'", 'f"', "f'"))
    }
    for path in [*(out / "feedback").glob("*.md"), *(out / "results").glob("*.json")]:
        text = path.read_text()
        leaked = [line for line in grader_lines if line in text]
        assert not leaked, (path.name, leaked[:3])


def test_the_feedback_picture_is_drawn_for_every_hand_in_whose_training_ran(graded: tuple) -> None:
    feedback = graded[2] / "feedback"
    for student in ("solutions_folder", "solutions_zip", "solutions_notebook"):
        png = (feedback / f"{student}-fit.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert not (feedback / "stubs-fit.png").exists()  # its training_loop raises: nothing to draw


def test_a_figure_module_that_raises_stops_the_batch_naming_it(tmp_path: Path) -> None:
    from coursekit.grade.engine import GraderSetupError

    course = tmp_path / "course"
    for folder in ("graders", "solutions", "data"):
        shutil.copytree(REPO / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "course.yml", course / "course.yml")
    figure = course / "graders" / "fit_figure.py"
    figure.write_text(figure.read_text() + "\n\ndef figure_png(fit, **_):\n    return fit['no such key']\n")
    submissions = tmp_path / "submissions"
    _write_handin(submissions / "alice", _sources("solutions"))
    with pytest.raises(GraderSetupError, match=r"graders/fit_figure\.py: figure_png raised KeyError: 'no such key'"):
        grade_class(
            course_dir=course,
            submissions_dir=submissions,
            out_dir=tmp_path / "out",
            jobs=1,
            limits=LIMITS,
            canary=False,
        )
    assert not (tmp_path / "out" / "results" / "alice.json").exists()


def test_a_rerun_resumes_and_force_regrades(graded: tuple, tmp_path: Path) -> None:
    _, submissions, out = graded
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (copy / "results" / "stubs.json").unlink()
    report = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=copy, jobs=1)
    assert report.graded == ["stubs"]
    assert _scores(copy) == _scores(out)
    one = grade_class(course_dir=REPO, submissions_dir=submissions, out_dir=copy, student="stubs", force=True)
    assert one.graded == ["stubs"] and _scores(copy) == _scores(out)


def test_grades_csv_is_plain_utf8_csv(graded: tuple) -> None:
    text = (graded[2] / "grades.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["student", "activations", "model", "training", "total"]


def test_broken_graders_stop_the_batch_instead_of_grading_everyone_zero(tmp_path: Path) -> None:
    from coursekit.grade.preflight import CourseMistake

    course = tmp_path / "course"
    for folder in ("graders", "solutions", "data"):
        shutil.copytree(REPO / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "course.yml", course / "course.yml")
    (course / "graders" / "test_model.py").write_text("def broken(:\n", encoding="utf-8")
    submissions = tmp_path / "submissions"
    _write_handin(submissions / "alice", _sources("solutions"))
    with pytest.raises(CourseMistake, match=r"^graders/test_model\.py:1: SyntaxError: invalid syntax$"):
        grade_class(course_dir=course, submissions_dir=submissions, out_dir=tmp_path / "out", jobs=1, limits=LIMITS)
    assert not (tmp_path / "out" / "results" / "alice.json").exists()


def test_prepared_folders_are_graded_as_they_stand_and_nothing_is_written(tmp_path: Path) -> None:
    """`grade_folders` (what `coursekit check` grades with): no intake, no results, the class's limits."""
    solutions, hangs = tmp_path / "solutions", tmp_path / "hangs"
    for folder in (solutions, hangs):
        _write_handin(folder, _sources("solutions"))
        for given in COURSE.given:
            shutil.copy(REPO / given, folder)
    (hangs / "model.py").write_text("import time\n\ntime.sleep(600)\n", encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))
    results = grade_folders({"solutions": solutions, "hangs": hangs}, course_dir=REPO, jobs=2, limits=LIMITS)
    assert list(results) == ["solutions", "hangs"]
    assert results["solutions"].part_scores(COURSE) == FULL
    # Nothing is drawn: the picture's data waits for a place that writes feedback.
    assert results["solutions"].figure_png is None and results["solutions"].figure_data is not None
    assert results["hangs"].part_scores(COURSE) == {**FULL, "model": 0.0}
    model_checks = [verdict for verdict in results["hangs"].verdicts if verdict.part == "model"]
    assert model_checks and all("did not return within 8 s" in verdict.message for verdict in model_checks)
    assert sorted(tmp_path.rglob("*")) == before
