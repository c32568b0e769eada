"""course.yml: the real file loads, and every kind of mistake names the file, the line and the key."""

from pathlib import Path

import pytest

from coursekit.config import CourseConfigError, load_course, parse_course

REPO = Path(__file__).resolve().parents[1]
COURSE_TEXT = (REPO / "course.yml").read_text(encoding="utf-8")


def test_the_course_loads_with_its_parts_and_points() -> None:
    course = load_course(REPO / "course.yml")
    assignment = course.assignment
    assert [part.id for part in assignment.parts] == ["activations", "model", "training"]
    assert assignment.points == 100
    assert assignment.exercise("2.2")[1].name == "count_parameters"
    assert assignment.part("training").module == "training"


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_bad_value_names_its_line_and_key() -> None:
    text = COURSE_TEXT.replace("      points: 30\n", "      points: -5\n", 1)
    with pytest.raises(CourseConfigError) as error:
        parse_course(text)
    line = _line_of(text, "points: -5")
    assert f"course.yml, line {line}: assignment.parts[0].points: Input should be greater than 0" in str(error.value)


def test_a_misspelt_key_is_named() -> None:
    text = COURSE_TEXT.replace("  memory_mb:", "  memroy_mb:")
    with pytest.raises(CourseConfigError) as error:
        parse_course(text)
    message = str(error.value)
    assert f"line {_line_of(text, 'memroy_mb')}: limits.memroy_mb: Extra inputs are not permitted" in message
    assert "limits.memory_mb: Field required" in message


def test_duplicate_exercise_ids_are_refused() -> None:
    text = COURSE_TEXT.replace('{id: "1.2", name: sigmoid', '{id: "1.1", name: sigmoid')
    with pytest.raises(CourseConfigError, match=r"exercise ids must be unique"):
        parse_course(text)


def test_broken_yaml_names_the_line() -> None:
    text = COURSE_TEXT.replace('title: "Activation functions"', "title: [unclosed")
    with pytest.raises(CourseConfigError, match=r"course.yml, line \d+: not valid YAML"):
        parse_course(text)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CourseConfigError, match="cannot read"):
        load_course(tmp_path / "course.yml")


def test_gradescope_visibility_defaults_and_course_yml() -> None:
    course = load_course(REPO / "course.yml")
    assert course.gradescope.visibility.of(public=True) == "visible"
    assert course.gradescope.visibility.of(public=False) == "after_due_date"
    assert course.gradescope.stdout_visibility == "hidden"
    # Left out, the section has the same defaults.
    start = COURSE_TEXT.index("gradescope:\n")
    end = COURSE_TEXT.index("\n# Thresholds", start)
    assert parse_course(COURSE_TEXT[:start] + COURSE_TEXT[end:]).gradescope == course.gradescope


def test_a_visibility_gradescope_does_not_know_is_refused() -> None:
    text = COURSE_TEXT.replace("    other_checks: after_due_date", "    other_checks: after_deadline")
    with pytest.raises(CourseConfigError) as error:
        parse_course(text)
    line = _line_of(text, "after_deadline")
    assert f"line {line}: gradescope.visibility.other_checks: Input should be 'visible', 'after_due_date'" in str(
        error.value
    )
