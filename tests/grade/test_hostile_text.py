"""Text attacks, graded for real: `coursekit grade` run as instructors run it, on hand-ins whose names, prints,
exceptions and return values carry terminal escapes, rich markup, markdown, HTML, spreadsheet formulas and
megabytes.

One batch is graded once (module fixture) through the CLI, beside a correct hand-in; every assertion reads what
the CLI printed or the files it wrote. Each attack is otherwise correct, so its score shows the 100 path is
untouched: only the checks its own broken function fails cost points.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from repo_paths import HOSTILE_SNIPPETS, REPO

from coursekit.config import load_course
from coursekit.escaping import MAX_FILE_BYTES, MAX_MESSAGE_CHARS
from coursekit.export.lms import export_grades
from coursekit.grade.results import read_grades_csv

MALICIOUS = HOSTILE_SNIPPETS
MODULES = ("activations.py", "model.py", "training.py")
COURSE = load_course(REPO / "course.yml")
FULL = {part.id: part.points for part in COURSE.assignment.parts}
COMMONMARK = MarkdownIt("commonmark").enable(["table", "strikethrough"])

# A zip named like this makes a student id that clears the screen, sets the window title and opens markup.
MARKUP = "[blink bold red]"
HOSTILE_ZIP_ID = f"names\x1b[2J\x1b]0;you have been graded\x07{MARKUP}"
# Member names beside the modules: reported as ignored, so they reach the problems table. Names cannot hold
# "/" or "\" (they split paths), so the hyperlink ends with BEL and the markup has no closing tags.
OSC8_MEMBER = "\x1b]8;;mailto:grades@evil.example\x07click me\x1b]8;;\x07.py"
MARKUP_MEMBER = "[link=mailto:grades@evil.example][on red]notes\u202eyp.exe.py"
FORMULA_ID = '=HYPERLINK("evil.example","[bold]A+")'
CORRECT = ("solutions_folder", HOSTILE_ZIP_ID, "forged_feedback", FORMULA_ID)


def _solutions() -> dict[str, str]:
    return {name: (REPO / "solutions" / name).read_text(encoding="utf-8") for name in MODULES}


def _with(sources: dict[str, str], module: str, snippet: str) -> dict[str, str]:
    return {**sources, module: sources[module] + "\n" + (MALICIOUS / snippet).read_text(encoding="utf-8")}


def _write_folder(folder: Path, sources: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, text in sources.items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    root = tmp_path_factory.mktemp("hostile")
    submissions = root / "submissions"
    submissions.mkdir()
    _write_folder(submissions / "solutions_folder", _solutions())
    with zipfile.ZipFile(submissions / f"{HOSTILE_ZIP_ID}.zip", "w") as archive:
        for name, text in _solutions().items():
            archive.writestr(f"chapter6/{name}", text)
        archive.writestr(f"chapter6/{OSC8_MEMBER}", "x = 1\n")
        archive.writestr(f"chapter6/{MARKUP_MEMBER}", "x = 1\n")
        archive.writestr("chapter6/\x1b]0;pwned\x07[reverse]inner.zip", b"PK")
    _write_folder(submissions / "forged_feedback", _with(_solutions(), "training.py", "forged_feedback.py"))
    _write_folder(submissions / "markup_exception", _with(_solutions(), "activations.py", "markup_exception.py"))
    _write_folder(submissions / FORMULA_ID, {**_solutions(), "helpers.py": "x = 1\n"})
    huge = _with(_with(_solutions(), "activations.py", "huge_exception.py"), "training.py", "huge_label.py")
    _write_folder(submissions / "huge_strings", huge)
    out = root / "out"
    env = {key: value for key, value in os.environ.items() if key not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(PYTHONPATH=str(REPO), COLUMNS="4000", TERM="xterm-256color")
    command = [sys.executable, "-m", "coursekit", "grade", str(submissions), "--out", str(out)]
    completed = subprocess.run(
        [*command, "--course-dir", str(REPO), "--jobs", "2"], env=env, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed, out


def _results(out: Path, student: str) -> dict:
    return json.loads((out / "results" / f"{student}.json").read_text(encoding="utf-8"))


def _feedback(out: Path, student: str) -> str:
    return (out / "feedback" / f"{student}.md").read_text(encoding="utf-8")


def _scores(out: Path) -> dict[str, dict[str, float | None]]:
    return {row.student: row.part_scores for row in read_grades_csv(out_dir=out, course=COURSE)}


def _points(results: dict, exercise_name: str) -> float:
    exercise_id = next(e.id for part in COURSE.assignment.parts for e in part.exercises if e.name == exercise_name)
    return sum(test["max_score"] for test in results["tests"] if test["number"] == exercise_id)


def _only_kits_markup(feedback: str) -> None:
    """The feedback's markdown holds the kit's headings, lists, quotes and fences, and nothing a student made."""
    tokens = COMMONMARK.parse(feedback)
    inline = [child for token in tokens for child in token.children or ()]
    kinds = [token.type for token in [*tokens, *inline]]
    assert "html_block" not in kinds and "html_inline" not in kinds and "link_open" not in kinds
    assert kinds.count("strong_open") == 1  # the score line
    images = [str(child.attrGet("src")) for child in inline if child.type == "image"]
    assert len(images) <= 1 and all(src.endswith("-fit.png") for src in images)
    headings = [tokens[i + 1].content for i, token in enumerate(tokens) if token.type == "heading_open"]
    titles = (COURSE.assignment.title, "Problems with your hand-in", *(part.title for part in COURSE.assignment.parts))
    assert headings[0] == COURSE.assignment.title and all(heading.startswith(titles) for heading in headings)
    rendered = COMMONMARK.render(feedback)
    assert "<script" not in rendered and "<img src=x" not in rendered
    assert rendered.count("<blockquote>") == rendered.count("</blockquote>")
    assert "\x1b" not in feedback and "\x07" not in feedback


def test_every_attack_is_graded_and_correct_code_keeps_full_marks(graded: tuple) -> None:
    _, out = graded
    scores = _scores(out)
    assert set(scores) == {*CORRECT, "markup_exception", "huge_strings"}
    for student in CORRECT:
        assert scores[student] == FULL, student


def test_the_terminal_gets_no_escape_sequence_and_no_markup(graded: tuple) -> None:
    completed, _ = graded
    for stream in (completed.stdout, completed.stderr):
        assert not any(char in stream for char in "\x1b\x07\x9b\u202e"), repr(stream[:2000])
    shown = completed.stdout
    # Escaped markup is shown as the text it is: the names are there, brackets and all.
    assert MARKUP in shown and "[link=mailto:grades@evil.example][on red]notes" in shown
    assert FORMULA_ID in shown and "click me" in shown and "[reverse]inner.zip" in shown
    assert "hand-ins with problems" in shown


def test_a_print_cannot_close_its_fence_or_forge_the_score(graded: tuple) -> None:
    _, out = graded
    feedback = _feedback(out, "forged_feedback")
    _only_kits_markup(feedback)
    fences = [token for token in COMMONMARK.parse(feedback) if token.type == "fence"]
    assert len(fences) == 1 and "# 100 / 100 points\n<script>alert(1)</script>" in fences[0].content
    results = _results(out, "forged_feedback")
    assert results["output_format"] == "md"
    tokens = COMMONMARK.parse(results["output"])
    assert [token.type for token in tokens if token.type in ("fence", "heading_open", "html_block")] == ["fence"]
    assert "<script>" in next(token.content for token in tokens if token.type == "fence")


def test_exception_text_cannot_leave_its_blockquote(graded: tuple) -> None:
    _, out = graded
    results = _results(out, "markup_exception")
    assert _scores(out)["markup_exception"] == {**FULL, "activations": FULL["activations"] - _points(results, "relu")}
    feedback = _feedback(out, "markup_exception")
    _only_kits_markup(feedback)
    rendered = COMMONMARK.render(feedback)
    assert "&lt;/blockquote&gt;" in rendered and "[claim them](https://evil.example/)" in rendered
    failed = [test["output"] for test in results["tests"] if test["status"] == "failed"]
    assert failed
    for output in failed:
        html = COMMONMARK.render(output)
        assert "<a " not in html and "<h1>" not in html and "<script" not in html and "<blockquote>" not in html


def test_a_formula_student_id_is_text_in_every_csv(graded: tuple, tmp_path: Path) -> None:
    _, out = graded
    raw = (out / "grades.csv").read_text(encoding="utf-8")
    assert "\n\"'=HYPERLINK(" in raw and '\n"=HYPERLINK(' not in raw
    assert FORMULA_ID in _scores(out)  # the kit reads the id back as it was
    dest = tmp_path / "grades-csv.csv"
    export_grades(out_dir=out, to="csv", course=COURSE, dest=dest)
    exported = dest.read_bytes().decode("utf-8")
    assert "\r\n\"'=HYPERLINK(" in exported and '\r\n"=HYPERLINK(' not in exported
    assert (
        _feedback(out, FORMULA_ID)
        .splitlines()[2]
        .startswith('**=HYPERLINK("evil.example","[bold]A+"): 100 / 100 points**')
    )


def test_megabytes_of_text_are_cut_to_bounded_files(graded: tuple) -> None:
    _, out = graded
    results_path = out / "results" / "huge_strings.json"
    feedback_path = out / "feedback" / "huge_strings.md"
    assert results_path.stat().st_size <= MAX_FILE_BYTES and feedback_path.stat().st_size <= MAX_FILE_BYTES
    results = _results(out, "huge_strings")
    # Cut where it first crosses a bound: by the wire in the student's process ("(cut)"), or at the file.
    assert any("(cut)" in test["output"] or "more characters" in test["output"] for test in results["tests"])
    assert all(len(test["output"]) <= 2 * MAX_MESSAGE_CHARS for test in results["tests"])
    feedback = _feedback(out, "huge_strings")
    assert "(cut)" in feedback or "more characters]" in feedback
    _only_kits_markup(feedback)
    scores = _scores(out)["huge_strings"]
    assert scores["activations"] == FULL["activations"] - _points(results, "softplus")
    assert scores["model"] == FULL["model"]
    training = [test for test in results["tests"] if test["tags"] == ["training"] and test["status"] == "failed"]
    assert training and {test["number"] for test in training} == {"3.3"}
