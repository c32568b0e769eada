"""Results files: Gradescope's schema, grades.csv, feedback, atomic writes, and reading a result back.

results.json is compared byte for byte with tests/golden/gradescope/results.json; after a deliberate format
change, regenerate it with ``COURSEKIT_UPDATE_GOLDEN=1 pytest tests/grade/test_results.py`` and review the diff.
"""

import base64
import dataclasses
import json
import os
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from repo_paths import GOLDEN as GOLDEN_FILES
from repo_paths import REPO

from coursekit.config import Course, load_course
from coursekit.grade.plugin import Verdict
from coursekit.grade.results import (
    StudentResult,
    feedback_markdown,
    grades_csv,
    gradescope_results,
    result_from_results,
    write_atomically,
    write_student_result,
)

COURSE = load_course(REPO / "course.yml")
GOLDEN = GOLDEN_FILES / "gradescope"
UPDATE_GOLDEN = os.environ.get("COURSEKIT_UPDATE_GOLDEN") == "1"


def _verdict(
    exercise: str, part: str, passed: bool, points: float, message: str = "", *, public: bool = False
) -> Verdict:
    return Verdict(
        test_id=f"test_{exercise}",
        name=f"{exercise} a check",
        exercise=exercise,
        part=part,
        max_score=points,
        score=points if passed else 0.0,
        passed=passed,
        message=message,
        public=public,
    )


RESULT = StudentResult(
    student_id="alice",
    verdicts=(
        _verdict("1.1", "activations", True, 5, public=True),
        _verdict("2.1", "model", False, 2.5, "forward returned shape [3] for input [3, 1]: keep the batch dimension"),
        _verdict("3.2", "training", True, 20),
    ),
    problems=("training.py: SyntaxError at line 3: expected ':'",),
    output={"training": "Epoch 1, Training loss 3.0\n"},
    execution_time=1.23456,
    late=True,
)


def test_results_follow_gradescopes_schema() -> None:
    data = gradescope_results(RESULT, course=COURSE)
    assert set(data) >= {"score", "execution_time", "output", "tests"}
    assert data["score"] == 25 and data["execution_time"] == 1.235
    assert data["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    # Student text in "output" is escaped for markdown, so Gradescope must render it as markdown.
    assert data["output_format"] == data["test_output_format"] == "md" and data["test_name_format"] == "text"
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility", "tags"}
        assert test["status"] in ("passed", "failed")
        assert test["tags"][0] in ("activations", "model", "training")
    failed = data["tests"][1]
    assert failed["status"] == "failed" and failed["score"] == 0 and failed["max_score"] == 2.5
    assert "keep the batch dimension" in failed["output"]
    assert "SyntaxError at line 3" in data["output"]


def _with_visibility(**settings: str) -> Course:
    gradescope = COURSE.gradescope
    visibility = gradescope.visibility.model_copy(update={k: v for k, v in settings.items() if k != "stdout"})
    update = {"visibility": visibility, "stdout_visibility": settings.get("stdout", gradescope.stdout_visibility)}
    return COURSE.model_copy(update={"gradescope": gradescope.model_copy(update=update)})


def test_each_check_is_shown_when_course_yml_says() -> None:
    data = gradescope_results(RESULT, course=COURSE)
    # course.yml's defaults: a check that mirrors a public test at once, the others after the due date.
    assert [test["visibility"] for test in data["tests"]] == ["visible", "after_due_date", "after_due_date"]
    assert data["stdout_visibility"] == "hidden" and data["visibility"] == "visible"
    # Gradescope hides the total while a check is hidden: the output must not tell it either.
    first_line = data["output"].splitlines()[0]
    assert "5 / 5 points in the checks shown now" in first_line and "after the due date" in first_line
    assert "25" not in first_line

    everything = _with_visibility(public_checks="visible", other_checks="visible", stdout="after_published")
    data = gradescope_results(RESULT, course=everything)
    assert {test["visibility"] for test in data["tests"]} == {"visible"}
    assert data["stdout_visibility"] == "after_published"
    assert data["output"].startswith(f"{COURSE.assignment.title}: 25 / 100 points.")

    nothing = _with_visibility(public_checks="after_published", other_checks="hidden")
    data = gradescope_results(RESULT, course=nothing)
    assert [test["visibility"] for test in data["tests"]] == ["after_published", "hidden", "hidden"]
    first_line = data["output"].splitlines()[0]
    assert "25" not in first_line and "when your instructor publishes the grades" in first_line


def test_the_figure_is_embedded_in_the_output() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    data = gradescope_results(dataclasses.replace(RESULT, figure_png=png, figure_part="training"), course=COURSE)
    caption = COURSE.chapter.figure_caption
    assert f"{caption}:\n\n![{caption}](data:image/png;base64,{base64.b64encode(png).decode()})" in data["output"]
    # A CommonMark renderer keeps a PNG data: URI (markdown-it, like most, refuses other data: links).
    html = MarkdownIt("commonmark").render(data["output"])
    assert f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="{caption}"' in html
    assert "data:image" not in gradescope_results(RESULT, course=COURSE)["output"]


@pytest.mark.parametrize("part", [part.id for part in COURSE.assignment.parts])
def test_the_feedback_shows_the_figure_under_the_part_that_attached_it(part: str) -> None:
    result = dataclasses.replace(RESULT, figure_png=b"\x89PNG\r\n\x1a\n", figure_part=part)
    sections = feedback_markdown(result, course=COURSE).split("\n## ")[1:]
    shown = [section for section in sections if "-fit.png)" in section]
    assert len(shown) == 1 and f"({COURSE.assignment.part(part).file})" in shown[0].splitlines()[0]


def test_results_json_matches_golden(tmp_path: Path) -> None:
    result = dataclasses.replace(RESULT, figure_png=b"\x89PNG\r\n\x1a\nnot really a picture", figure_part="training")
    write_student_result(result, course=COURSE, out_dir=tmp_path)
    written, golden = tmp_path / "results" / "alice.json", GOLDEN / "results.json"
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(written.read_bytes())
    assert written.read_bytes() == golden.read_bytes(), "results.json changed; see the module docstring"


def test_a_result_reads_back_as_written(tmp_path: Path) -> None:
    write_student_result(RESULT, course=COURSE, out_dir=tmp_path)
    data = json.loads((tmp_path / "results" / "alice.json").read_text())
    back = result_from_results(data, student_id="alice")
    assert back.part_scores(COURSE) == RESULT.part_scores(COURSE)
    assert [verdict.public for verdict in back.verdicts] == [True, False, False]
    assert back.problems == RESULT.problems and back.late
    feedback = (tmp_path / "feedback" / "alice.md").read_text()
    assert "FAILED (0/2.5) 2.1 a check" in feedback and "keep the batch dimension" in feedback
    assert "Epoch 1, Training loss 3.0" in feedback


def test_grades_csv_has_a_row_per_student_and_a_column_per_part() -> None:
    empty = StudentResult(student_id="bob", verdicts=(), problems=("the hand-in could not be read",))
    lines = grades_csv([RESULT, empty], course=COURSE).splitlines()
    assert lines[0] == "student,activations,model,training,total,max_total,late,days_late,late_penalty,errors"
    assert lines[1] == "alice,5,0,20,25,100,1,,0,training.py: SyntaxError at line 3: expected ':'"
    assert lines[2] == "bob,0,0,0,0,100,0,,0,the hand-in could not be read"


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "grades.csv"
    target.write_text("old\n")

    def interrupted(_fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, b"new, half written")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_feedback_gives_a_subtotal_per_exercise_collapses_passes_and_shows_failures_in_full() -> None:
    verdicts = (
        *(_verdict("1.1", "activations", True, 1) for _ in range(4)),
        _verdict("2.1", "model", True, 2),
        _verdict("2.1", "model", False, 3, "forward returned shape [3]: keep the batch dimension"),
    )
    feedback = feedback_markdown(dataclasses.replace(RESULT, verdicts=verdicts), course=COURSE)
    assert "- passed (4/4) 1.1 tanh: 4 checks\n" in feedback
    assert "1.1 a check" not in feedback  # passed checks are not listed one by one
    assert "- 2/5 2.1 TemperatureNet: 1 of 2 checks failed\n  - FAILED (0/3) 2.1 a check\n" in feedback
    assert "\n    > forward returned shape [3\\]: keep the batch dimension" in feedback


def test_html_feedback_is_written_beside_the_markdown_self_contained_and_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>&amp;"
    verdicts = (_verdict("1.1", "activations", True, 5), _verdict("2.1", "model", False, 2.5, hostile))
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    result = dataclasses.replace(
        RESULT, student_id="alice", verdicts=verdicts, problems=(hostile,), output={"training": hostile},
        figure_png=png, figure_part="training",
    )  # fmt: skip
    write_student_result(result, course=COURSE, out_dir=tmp_path)
    page = (tmp_path / "feedback" / "alice.html").read_text(encoding="utf-8")
    assert (tmp_path / "feedback" / "alice.md").is_file()
    assert "<script" not in page and "<img src=x" not in page and "&lt;script&gt;" in page
    assert page.count("&lt;img src=x onerror=alert(2)&gt;&amp;amp;") == 3  # the hint, the problem, the output
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in page
    assert "http://" not in page and "https://" not in page
    assert "passed</span> (5/5)" in page and "FAILED</span> (0/2.5)" in page


@pytest.mark.slow
def test_html_feedback_renders_in_headless_chromium(tmp_path: Path) -> None:
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3))
    figure.add_subplot().plot([20, 50, 80], [-5, 10, 25], "o-")
    picture = tmp_path / "fit.png"
    figure.savefig(picture)
    result = dataclasses.replace(RESULT, figure_png=picture.read_bytes(), figure_part="training")
    write_student_result(result, course=COURSE, out_dir=tmp_path)
    page = tmp_path / "feedback" / "alice.html"
    shot = tmp_path / "shot.png"
    browser = subprocess.run(
        [
            chromium,
            *("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"),
            *("--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--log-level=0"),
            *("--window-size=900,1400", f"--screenshot={shot}", page.as_uri()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file(), browser.stderr[-3000:]
    assert not [line for line in browser.stderr.splitlines() if ":CONSOLE" in line]
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert (pixels.mean(axis=2) < 0.5).mean() > 0.005  # text and the picture, not a blank page
    colours = {tuple(row) for row in (pixels[::4, ::4].reshape(-1, 3) * 255).astype(int).tolist()}
    assert len(colours) > 20
