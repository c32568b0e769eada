"""Measure the code-similarity scores behind coursekit/report/similarity.py's SIMILARITY_THRESHOLD.

Honest pairs: the reference solution and the correct rewrites the grader tests hold (two styles of every part),
each against the others. Copies: one of those rewrites with its names changed and its functions reordered, and
the bundled sample class (built from one solution, so its hand-ins share nearly all their code).

    .venv/bin/python bench/calibrate_similarity.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from similarity_styles import copied, correct_styles  # noqa: E402

from coursekit.config import load_course  # noqa: E402
from coursekit.report.similarity import (  # noqa: E402
    boilerplate_source,
    handin_sources,
    similar_pairs,
)


def _summary(scores: list[float]) -> str:
    return (
        f"min {min(scores):.2f} / median {statistics.median(scores):.2f} / max {max(scores):.2f} ({len(scores)} pairs)"
    )


def main() -> None:
    course = load_course(REPO / "course.yml")
    boilerplate = boilerplate_source(course_dir=REPO, course=course)
    styles = correct_styles()
    honest = similar_pairs(styles, boilerplate=boilerplate)
    print("honest pairs:", _summary([pair.score for pair in honest.pairs]))
    for name in styles:
        batch = {**styles, "copy": copied(styles[name])}
        pair = next(p for p in similar_pairs(batch, boilerplate=boilerplate).pairs if "copy" in (p.first, p.second))
        print(f"copy of {name} (renamed, reordered): highest pair {pair.first}-{pair.second} {pair.score:.2f}")
    sample = handin_sources(submissions_dir=REPO / "examples" / "submissions", course=course)
    result = similar_pairs(sample, boilerplate=boilerplate)
    print("sample class:", _summary([pair.score for pair in result.pairs]))
    print("left out:", ", ".join(f"{s} ({why})" for s, why in result.left_out))


if __name__ == "__main__":
    main()
