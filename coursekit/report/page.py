"""OUT/report.html: the class at a glance, item analysis, common mistakes, the gallery of feedback figures, code
similarity and problems, in one page that opens from disk.

The page fetches nothing: its style is inline, its figures are data URIs, it has no script. The template
(templates/report.html) autoescapes everything; text a student controls also goes through coursekit.escaping's
HTML rules (`text` and `code` filters), so no escape sequence or bidi override reaches the page either.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import quote

from coursekit.config import Course, load_course
from coursekit.escaping import html_code, html_text, plain_text
from coursekit.grade.results import (
    FEEDBACK_DIR,
    FIGURE_SUFFIX,
    StudentResult,
    graded_students,
    read_student_result,
    write_atomically,
)
from coursekit.report import analysis
from coursekit.report.figures import data_uri, histograms_svg
from coursekit.report.similarity import (
    SIMILARITY_THRESHOLD,
    Similarity,
    boilerplate_source,
    handin_sources,
    similar_pairs,
)

REPORT_HTML = "report.html"
# Pairs listed (each with its side-by-side view); a class built from one source flags most of its pairs.
MAX_PAIRS_SHOWN = 30
# Shown even when no pair is flagged, so the instructor sees how far the closest pairs are from the threshold.
CLOSEST_PAIRS_SHOWN = 3


@dataclasses.dataclass(frozen=True)
class FeedbackFigure:
    """The picture grading attached to a student's feedback, and the part whose grader attached it."""

    png: bytes
    part: str


def feedback_figure(out_dir: Path, result: StudentResult, *, course: Course) -> FeedbackFigure | None:
    """The student's feedback figure, read from OUT/feedback/ as grading wrote it; None when there is none.

    The PNG lies beside the feedback; results.json names the part whose graders attached it.
    """
    path = out_dir / FEEDBACK_DIR / f"{result.student_id}-{FIGURE_SUFFIX}"
    if result.figure_part is None or not path.is_file() or path.is_symlink():
        return None
    return FeedbackFigure(png=path.read_bytes(), part=result.figure_part)


@dataclasses.dataclass(frozen=True)
class GalleryEntry:
    student: str
    image: str
    part_title: str
    score: float
    points: float
    feedback: str


def _feedback_link(student: str) -> str:
    return f"{FEEDBACK_DIR}/{quote(plain_text(student), safe='')}.md"


def _gallery(out_dir: Path, results: list[StudentResult], *, course: Course) -> dict[bool, list[GalleryEntry]]:
    """Figures grouped by whether the part that attached them got full marks (True: converged)."""
    groups: dict[bool, list[GalleryEntry]] = {True: [], False: []}
    parts = {part.id: part for part in course.assignment.parts}
    for result in analysis.graded(results):
        figure = feedback_figure(out_dir, result, course=course)
        if figure is None:
            continue
        part = parts.get(figure.part)
        score = result.part_scores(course)[part.id] if part else result.score
        points = part.points if part else course.assignment.points
        groups[score >= points - 1e-9].append(
            GalleryEntry(
                student=result.student_id,
                image=data_uri(figure.png, "image/png"),
                part_title=part.title if part else "Total",
                score=score,
                points=points,
                feedback=_feedback_link(result.student_id),
            )
        )
    return groups


def load_results(out_dir: Path) -> list[StudentResult]:
    """Every student's result under OUT/results/, sorted by student."""
    results = [read_student_result(out_dir, student) for student in graded_students(out_dir)]
    return [result for result in results if result is not None]


def render_report(
    *,
    out_dir: Path,
    course: Course,
    course_dir: Path,
    results: list[StudentResult],
    similarity: Similarity | None,
) -> str:
    """The report's HTML."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("coursekit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["text"] = lambda value: jinja2.utils.markupsafe.Markup(html_text(str(value)))
    environment.filters["code"] = lambda value: jinja2.utils.markupsafe.Markup(html_code(str(value)))
    environment.filters["feedback"] = _feedback_link
    environment.filters["points"] = lambda value: "–" if value is None else f"{value:.4g}"
    environment.filters["percent"] = lambda value: f"{100 * value:.0f}%"
    environment.filters["index"] = lambda value: "–" if value is None else f"{value:+.2f}"
    done = analysis.graded(results)
    distributions = analysis.distributions(results, course=course)
    exercises, checks = analysis.item_analysis(results, course=course)
    pairs: list[object] = []
    more_flagged = 0
    if similarity is not None:
        flagged = [pair for pair in similarity.pairs if pair.flagged]
        pairs = list(flagged[:MAX_PAIRS_SHOWN] or similarity.pairs[:CLOSEST_PAIRS_SHOWN])
        more_flagged = max(0, len(flagged) - MAX_PAIRS_SHOWN)
    template = environment.get_template("report.html")
    return template.render(
        course=course,
        results=results,
        graded=done,
        distributions=distributions,
        histograms=histograms_svg(distributions) if done else None,
        exercises=exercises,
        checks=checks,
        hard=analysis.HARD_PASS_RATE,
        low_discrimination=analysis.LOW_DISCRIMINATION,
        mistakes=analysis.common_mistakes(results, course=course),
        gallery=_gallery(out_dir, results, course=course),
        similarity=similarity,
        pairs=pairs,
        flagged_count=sum(1 for pair in similarity.pairs if pair.flagged) if similarity else 0,
        more_flagged=more_flagged,
        threshold=SIMILARITY_THRESHOLD,
        problems=analysis.problems(results, course=course),
    )


def write_report(*, out_dir: Path, course_dir: Path, submissions_dir: Path | None = None) -> Path:
    """Write OUT/report.html from the results under OUT; return its path.

    With `submissions_dir` (the hand-ins that were graded), the report compares their code; without, it says that
    similarity was not computed.
    """
    course = load_course(course_dir / "course.yml")
    results = load_results(out_dir)
    similarity = None
    if submissions_dir is not None:
        students = {result.student_id for result in results}
        sources = handin_sources(submissions_dir=submissions_dir, course=course, students=students)
        similarity = similar_pairs(sources, boilerplate=boilerplate_source(course_dir=course_dir, course=course))
    page = render_report(out_dir=out_dir, course=course, course_dir=course_dir, results=results, similarity=similarity)
    path = out_dir / REPORT_HTML
    write_atomically(path, page.encode("utf-8"))
    return path
