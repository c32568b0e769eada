"""The class report: item statistics and mistakes on a known batch, similarity ranking, escaping, and the page of
the bundled sample class rendered in headless Chromium (no console message, nothing fetched, not blank)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from repo_paths import HOSTILE_HANDINS, REPO
from similarity_styles import copied, correct_styles

from coursekit.config import load_course
from coursekit.grade.plugin import Verdict
from coursekit.grade.results import StudentResult, write_grades_csv, write_student_result
from coursekit.report import analysis
from coursekit.report.page import render_report, write_report
from coursekit.report.similarity import boilerplate_source, similar_pairs

COURSE = load_course(REPO / "course.yml")
FIRST, SECOND = COURSE.assignment.parts[0], COURSE.assignment.parts[1]
EX_A, EX_B = FIRST.exercises[0].id, SECOND.exercises[0].id


def _verdict(name: str, exercise: str, part: str, points: float, passed: bool, message: str = "") -> Verdict:
    return Verdict(
        test_id=name,
        name=name,
        exercise=exercise,
        part=part,
        max_score=points,
        score=points if passed else 0.0,
        passed=passed,
        message="" if passed else message,
    )


def _student(student: str, a: bool, b: bool, c: bool, message_b: str = "", **kwargs: object) -> StudentResult:
    return StudentResult(
        student_id=student,
        verdicts=(
            _verdict("check a", EX_A, FIRST.id, 1.0, a, "a failed"),
            _verdict("check b", EX_A, FIRST.id, 2.0, b, message_b),
            _verdict("check c", EX_B, SECOND.id, 3.0, c, "c is 0.5, expected 1.5: did you forget the bias?"),
        ),
        **kwargs,  # type: ignore[arg-type]
    )


# Totals: s1 6, s2 4, s3 1, s4 0, s5 not graded.
BATCH = [
    _student("s1", True, True, True),
    _student("s2", True, False, True, "b(3) is 7, expected 9: the slope is ignored"),
    _student("s3", True, False, False, "b(4) is 2.5, expected 10: the slope is ignored"),
    _student("s4", False, False, False, "b(1) is nan"),
    StudentResult(student_id="s5", verdicts=(), not_graded="its grading process died"),
]


def test_item_statistics_on_a_known_batch() -> None:
    exercises, checks = analysis.item_analysis(BATCH, course=COURSE)
    by_name = {item.name: item for item in checks}
    assert [item.name for item in checks] == ["check b", "check c", "check a"]  # hardest first
    assert (by_name["check b"].passed, by_name["check b"].students) == (1, 4)
    assert by_name["check c"].pass_rate == 0.5
    assert by_name["check a"].pass_rate == 0.75
    # check a against the rest of each total (5, 3, 0, 0): the passers' mean rest 8/3, the others' 0, p = 3/4, the
    # rests' population s.d. sqrt(4.5): (8/3 - 0) * sqrt(3/4 * 1/4) / sqrt(4.5) = 0.5443
    assert by_name["check a"].discrimination == pytest.approx(0.5443, abs=1e-4)
    assert by_name["check a"].discrimination == pytest.approx(_pearson([1, 1, 1, 0], [5, 3, 0, 0]))
    # check b: only the strongest passed, against the rest (4, 4, 1, 0)
    assert by_name["check b"].discrimination == pytest.approx(_pearson([1, 0, 0, 0], [4, 4, 1, 0]))
    first = next(item for item in exercises if item.exercise == EX_A)
    assert (first.passed, first.students, first.points) == (1, 4, 3.0)
    assert first.discrimination == pytest.approx(_pearson([1, 1 / 3, 1 / 3, 0], [3, 3, 0, 0]))
    total = analysis.distributions(BATCH, course=COURSE)[-1]
    assert total.scores == (6.0, 4.0, 1.0, 0.0)
    assert (total.mean, total.median, total.full_marks) == (2.75, 2.5, 0)


def _pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return float(sxy / (sxx * syy) ** 0.5)


def test_an_item_everyone_passes_has_no_discrimination() -> None:
    batch = [_student("s1", True, True, True), _student("s2", True, True, False)]
    _, checks = analysis.item_analysis(batch, course=COURSE)
    assert {item.name: item.discrimination for item in checks}["check a"] is None


def test_mistakes_are_grouped_by_the_mistake_they_name() -> None:
    mistakes = analysis.common_mistakes(BATCH, course=COURSE)
    keys = {m.hint: m for m in mistakes}
    # Different values, one mistake: what follows the colon, numbers set aside.
    assert keys["the slope is ignored"].students == ("s2", "s3")
    assert keys["the slope is ignored"].failures == 2
    # A hint that asks a question is keyed by the question.
    assert keys["did you forget the bias?"].students == ("s3", "s4")
    assert keys["b(…) is nan"].students == ("s4",)
    assert mistakes[0].hint in {"the slope is ignored", "did you forget the bias?"}
    assert "s5" not in {s for m in mistakes for s in m.students}


def test_mistake_keys_read_the_markdown_results_store() -> None:
    assert analysis.mistake_of(r"did you forget optimizer.zero\_grad()? gradients accumulate") == (
        "did you forget optimizer.zero_grad()?"
    )
    assert analysis.mistake_of("tanh(1e4) is nan in float32: exp overflows for x > 88") == "exp overflows for x > …"


def test_problems_list_intake_timeouts_not_graded_and_late() -> None:
    batch = [
        _student("t1", True, True, True, problems=("model.py: SyntaxError at line 3",), late=True),
        _student("t2", True, False, True, "b did not return within 10 s"),
        BATCH[-1],
    ]
    found = {(p.student, p.kind) for p in analysis.problems(batch, course=COURSE)}
    assert found == {("t1", "intake"), ("t1", "late"), ("t2", "timeout"), ("s5", "not graded")}


def test_the_copied_handin_ranks_first() -> None:
    styles = correct_styles()
    batch = {**styles, "copier": copied(styles["rewrite_a"])}
    result = similar_pairs(batch, boilerplate=boilerplate_source(course_dir=REPO, course=COURSE))
    top = result.pairs[0]
    assert {top.first, top.second} == {"copier", "rewrite_a"}
    assert top.flagged
    assert not any(pair.flagged for pair in result.pairs[1:] if "copier" not in (pair.first, pair.second))


def test_handins_that_share_no_code_are_compared_and_not_flagged() -> None:
    """A class where one hand-in shares nothing with the rest (here a real attack hand-in) still gets its report."""
    unrelated = (HOSTILE_HANDINS / "exits_at_call" / "activations.py").read_text()
    batch = {"correct": correct_styles()["rewrite_a"], "unrelated": unrelated}
    result = similar_pairs(batch)
    (pair,) = result.pairs
    assert pair.shares == (0.0, 0.0) and not pair.flagged
    assert "".join(segment.text for segment in pair.segments[1]).strip() == unrelated.strip()
    assert not any(segment.shared for segments in pair.segments for segment in segments)


def test_student_text_is_escaped(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>"\x1b[31m'
    batch = [
        _student("<img src=x onerror=alert(1)>", True, False, True, hostile, problems=(hostile,)),
        _student("s2", False, True, True),
    ]
    page = render_report(out_dir=tmp_path, course=COURSE, course_dir=REPO, results=batch, similarity=None)
    assert "<script>" not in page and "<img src=x" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "feedback/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.md" in page


# -- the sample class in a browser -------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample class graded by `coursekit grade` (which writes the report and prints its path)."""
    out = tmp_path_factory.mktemp("sample") / "out"
    graded = subprocess.run(
        [sys.executable, "-m", "coursekit", "grade", "examples/submissions", "--out", str(out), "--time-limit", "10"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert f"class report in {out / 'report.html'}" in graded.stdout
    return out / "report.html"


@pytest.mark.slow
def test_the_sample_class_report_renders_in_headless_chromium(sample_report: Path, tmp_path: Path) -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = sample_report.read_text(encoding="utf-8")
    for section in ("The class at a glance", "Item analysis", "Common mistakes", "Feedback figures", "Code similarity"):
        assert section in page
    assert "evidence for a person to weigh, not a verdict" in page
    assert "http://" not in page and "https://" not in page
    shot, netlog = tmp_path / "shot.png", tmp_path / "net.json"
    browser = subprocess.run(
        [
            CHROMIUM,
            *("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"),
            *(
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
            ),
            # Every name fails to resolve, and every request is logged.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--log-net-log={netlog}",
            *("--enable-logging=stderr", "--log-level=0", "--window-size=1280,2000", f"--screenshot={shot}"),
            sample_report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file(), browser.stderr[-3000:]
    # The page has no script: any console message is an error (a refused load, a bad style).
    console = [line for line in browser.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert _page_requests(netlog) == []
    _assert_not_blank(shot)


def _page_requests(netlog: Path) -> list[str]:
    """The URLs the page itself asked for, beyond file: and data: (the browser's own background requests, which
    the isolation key tells apart, are not the page's)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    types = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    requests = []
    for event in log["events"]:
        params = event.get("params", {})
        if types.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if "file://" in params.get("network_isolation_key", "") and not params["url"].startswith(("file:", "data:")):
            requests.append(params["url"])
    return requests


def _assert_not_blank(shot: Path) -> None:
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    dark = (pixels.mean(axis=2) < 0.5).mean()
    colours = len({tuple(row) for row in (pixels[::8, ::8].reshape(-1, 3) * 255).astype(int).tolist()})
    assert dark > 0.01, f"only {dark:.1%} of the screenshot is text or figures"
    assert colours > 20


def test_write_report_from_written_results(tmp_path: Path) -> None:
    for result in BATCH:
        write_student_result(result, course=COURSE, out_dir=tmp_path)
    write_grades_csv(BATCH, course=COURSE, out_dir=tmp_path)
    path = write_report(out_dir=tmp_path, course_dir=REPO)
    page = path.read_text(encoding="utf-8")
    assert path == tmp_path / "report.html"
    assert "the slope is ignored" in page and "Not computed" in page
