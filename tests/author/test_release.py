"""The student release: contents, no leaks, a reproducible zip, requirements from pyproject.toml, a working folder."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from repo_paths import REPO
from solution_lines import solution_body_lines

from coursekit.author.release import (
    ReleaseError,
    ReleaseLeakError,
    ReleaseReport,
    build_release,
    check_no_leaks,
    collect_student_files,
    course_id,
    nbgrader_config_text,
)
from coursekit.author.stubs import StaleExercisesError
from coursekit.config import load_course

COURSE = load_course(REPO / "course.yml")
TOP = COURSE.assignment.id


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> ReleaseReport:
    return build_release(course_dir=REPO, out_dir=tmp_path_factory.mktemp("release"))


def _zip_entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_release_holds_stubs_public_tests_data_readme_and_requirements(release: ReleaseReport) -> None:
    expected = {
        "README.md",
        "requirements.txt",
        "data/temperature.csv",
        "pytest.ini",
        "conftest.py",
        "exercise_progress.py",
        "handin.py",
        "temperature_data.py",
        *(script.file for script in COURSE.release.scripts),
        "tests/conftest.py",
        *(part.file for part in COURSE.assignment.parts),
        *(f"tests/{path.name}" for path in (REPO / "exercises" / "tests").glob("test_*.py")),
    }
    assert set(release.student_files) == expected
    assert list(release.student_files) == sorted(release.student_files)
    on_disk = {
        path.relative_to(release.student_dir).as_posix() for path in release.student_dir.rglob("*") if path.is_file()
    }
    assert on_disk == expected
    assert _zip_entries(release.student_zip).keys() == {f"{TOP}/{name}" for name in expected}
    for part in COURSE.assignment.parts:
        assert (release.student_dir / part.file).read_bytes() == (REPO / "exercises" / part.file).read_bytes()
    assert (release.student_dir / "data" / "temperature.csv").read_bytes() == (
        REPO / "data" / "temperature.csv"
    ).read_bytes()


def test_zip_carries_no_solution_no_grader_no_hidden_test(release: ReleaseReport) -> None:
    entries = _zip_entries(release.student_zip)
    grader_files = {
        path.read_bytes() for path in (REPO / "graders").rglob("*") if path.is_file() and path.stat().st_size
    }
    solution_lines = solution_body_lines()
    assert solution_lines
    for name, content in entries.items():
        text = content.decode("utf-8")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
            assert marker not in text, name
        assert not {"graders", "solutions", "mutants"} & set(name.split("/")), name
        assert not name.endswith((".yml", ".ipynb")), name
        assert content not in grader_files, name
        assert solution_lines & {line.strip() for line in text.splitlines()} == set(), name


def test_zip_is_reproducible(release: ReleaseReport, tmp_path: Path) -> None:
    again = build_release(course_dir=REPO, out_dir=tmp_path)
    assert again.student_zip.read_bytes() == release.student_zip.read_bytes()
    assert again.zip_sha256 == release.zip_sha256 == hashlib.sha256(release.student_zip.read_bytes()).hexdigest()
    with zipfile.ZipFile(release.student_zip) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}


def test_requirements_are_the_pins_from_pyproject(release: ReleaseReport) -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = {requirement.split("==")[0]: requirement for requirement in dependencies}
    lines = [
        line for line in (release.student_dir / "requirements.txt").read_text().splitlines() if line and line[0] != "#"
    ]
    torch_version = pins["torch"].split("==")[1]
    assert lines == [
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        f'torch=={torch_version}+cpu; sys_platform == "linux"',
        f'torch=={torch_version}; sys_platform != "linux"',
        *(pins[name] for name in ("numpy", "matplotlib", "pytest")),
    ]


def test_readme_says_what_to_do_and_lists_every_exercise(release: ReleaseReport) -> None:
    readme = (release.student_dir / "README.md").read_text(encoding="utf-8")
    assert "pip install -r requirements.txt" in readme and "\npytest\n" in readme
    assert "What to hand in" in readme
    for part in COURSE.assignment.parts:
        for exercise in part.exercises:
            marker = "ex" + exercise.id.replace(".", "_")
            assert f"| {exercise.id} | `{marker}` | `{part.file}` | `{exercise.name}` | {exercise.title} |" in readme
    # The example of running one exercise's tests names one of the course's own exercises.
    assert f"`pytest -m ex{COURSE.assignment.parts[0].exercises[1].id.replace('.', '_')}`" in readme
    assert COURSE.release.introduction.strip() in readme


def test_release_writes_the_nbgrader_course(release: ReleaseReport) -> None:
    assert release.source_notebook == release.nbgrader_dir / "source" / TOP / f"{TOP}.ipynb"
    config = (release.nbgrader_dir / "nbgrader_config.py").read_text(encoding="utf-8")
    assert config == nbgrader_config_text(course=COURSE)
    assert f'c.CourseDirectory.course_id = "{course_id(COURSE)}"' in config
    assert "c.OverwriteCells.add_missing_cells = True" in config
    compile(config, "nbgrader_config.py", "exec")
    assert release.points == 100


def _course_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    for name in ("course.yml", "pyproject.toml"):
        course.mkdir(exist_ok=True)
        shutil.copy(REPO / name, course / name)
    for folder in ("solutions", "exercises", "graders", "data"):
        shutil.copytree(REPO / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return course


def test_a_public_test_quoting_a_solution_line_stops_the_release(tmp_path: Path) -> None:
    course = _course_copy(tmp_path)
    leaked = sorted(solution_body_lines())[0]
    test_file = course / "exercises" / "tests" / "test_model.py"
    test_file.write_text(
        test_file.read_text(encoding="utf-8") + f"\n\ndef helper(x):\n    {leaked}\n", encoding="utf-8"
    )
    with pytest.raises(ReleaseLeakError, match=r"tests/test_model\.py, line \d+: a line of a reference solution"):
        build_release(course_dir=course, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "student.zip").exists()


def test_a_grader_or_fence_in_the_student_files_stops_the_release(tmp_path: Path) -> None:
    files = collect_student_files(course_dir=REPO, course=COURSE)
    grader = next(path for path in sorted((REPO / "graders").glob("test_*.py")))
    with pytest.raises(ReleaseLeakError, match="a copy of graders/"):
        check_no_leaks(course_dir=REPO, files={**files, "tests/extra.py": grader.read_bytes()})
    with pytest.raises(ReleaseLeakError, match="contains 'BEGIN SOLUTION'"):
        check_no_leaks(course_dir=REPO, files={**files, "notes.txt": b"### BEGIN SOLUTION\n"})
    check_no_leaks(course_dir=REPO, files=files)


def test_hidden_files_stay_out_and_a_missing_given_module_or_data_file_stops_the_release(tmp_path: Path) -> None:
    course = _course_copy(tmp_path)
    checkpoint = course / "exercises" / "tests" / ".ipynb_checkpoints" / "test_model-checkpoint.py"
    checkpoint.parent.mkdir()
    checkpoint.write_text("x = 1\n", encoding="utf-8")
    files = collect_student_files(course_dir=course, course=COURSE)
    assert not [name for name in files if "checkpoint" in name]

    for given in COURSE.given_modules:
        (course / "exercises" / given).unlink()
    with pytest.raises(ReleaseError, match="is missing; run `coursekit build-exercises`"):
        collect_student_files(course_dir=course, course=COURSE)
    more_data = COURSE.model_copy(update={"data": [*COURSE.data, "data/held_out.csv"]})
    with pytest.raises(ReleaseError, match=r"held_out\.csv is missing: course\.yml's data lists it"):
        collect_student_files(course_dir=REPO, course=more_data)


def test_stale_exercises_stop_the_release(tmp_path: Path) -> None:
    course = _course_copy(tmp_path)
    stub = course / "exercises" / "activations.py"
    stub.write_text(stub.read_text(encoding="utf-8") + "\n# edited by hand\n", encoding="utf-8")
    with pytest.raises(StaleExercisesError):
        build_release(course_dir=course, out_dir=tmp_path / "out")


@pytest.mark.slow
def test_unzipped_release_runs_pytest_like_a_student(release: ReleaseReport, tmp_path: Path) -> None:
    with zipfile.ZipFile(release.student_zip) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / TOP
    for part in COURSE.assignment.parts:
        shutil.copy(REPO / "solutions" / part.file, folder / part.file)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x"], cwd=folder, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(path.name for path in folder.rglob("*") if path.name in ("__pycache__", ".pytest_cache")) == []


def test_a_course_file_with_a_name_the_release_writes_stops_the_release(tmp_path: Path) -> None:
    course = _course_copy(tmp_path)
    (course / "exercises" / "conftest.py").write_text("import pytest\n", encoding="utf-8")
    with pytest.raises(ReleaseError, match=r"conftest\.py: the release writes conftest\.py itself"):
        collect_student_files(course_dir=course, course=COURSE)
