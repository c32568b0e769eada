"""The CLI reports every CoursekitError once: ``error: ...`` on stderr, escaped, with exit status 1."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from coursekit.cli import app

REPO = Path(__file__).resolve().parents[1]


def test_a_tool_error_is_one_escaped_line_and_exit_1(tmp_path: Path) -> None:
    download = tmp_path / "names\x1b[2J[blink]download.zip"
    result = CliRunner().invoke(app, ["collect", str(download), "--lms", "canvas", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert lines[0].endswith("download.zip: no such file or folder")
    assert "\x1b" not in result.stderr
    assert "[blink]" in result.stderr  # shown as text, not taken as markup


def test_errors_of_every_stage_reach_the_same_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    export = CliRunner().invoke(app, ["export", str(out), "--to", "canvas", "--course-dir", str(REPO)])
    assert export.exit_code == 1
    assert export.stderr.startswith("error: export to canvas needs a roster")
    grades = CliRunner().invoke(app, ["export", str(out), "--to", "csv", "--course-dir", str(REPO)])
    assert grades.exit_code == 1
    assert "grades.csv: cannot read" in grades.stderr
    course = CliRunner().invoke(app, ["build-exercises", "--check", "--course-dir", str(tmp_path)])
    assert course.exit_code == 1
    assert course.stderr.startswith("error: ") and "course.yml" in course.stderr


def test_a_choice_outside_its_literal_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["collect", str(tmp_path), "--lms", "blackboard", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "blackboard" in result.output + result.stderr
