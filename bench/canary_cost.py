"""What the canary (the reference solutions graded before the class) costs a `coursekit grade` run.

Grades the same class of correct hand-ins with and without the canary, alternating, and prints each run's wall time
and the medians. `python bench/canary_cost.py --handins 4 --rounds 3 --jobs 2` (add `--student` to time one
student's regrade, where the canary runs on the same single slot).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from coursekit.config import load_course
from coursekit.grade.engine import grade_class

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handins", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--student", action="store_true", help="grade one student (--student) instead of the class")
    options = parser.parse_args()
    course = load_course(REPO / "course.yml")
    seconds: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="canary-cost-") as temporary:
        submissions = Path(temporary) / "submissions"
        for index in range(options.handins):
            folder = submissions / f"student_{index:02d}"
            folder.mkdir(parents=True)
            for part in course.assignment.parts:
                shutil.copy2(REPO / "solutions" / part.file, folder / part.file)
        for round_ in range(options.rounds):
            for canary in (True, False) if round_ % 2 == 0 else (False, True):
                started = time.perf_counter()
                grade_class(
                    course_dir=REPO,
                    submissions_dir=submissions,
                    out_dir=Path(temporary) / "out",
                    jobs=1 if options.student else options.jobs,
                    student="student_00" if options.student else None,
                    force=True,
                    canary=canary,
                )
                seconds[canary].append(time.perf_counter() - started)
                print(f"round {round_}: canary={canary} {seconds[canary][-1]:.2f} s", flush=True)
    with_canary, without = statistics.median(seconds[True]), statistics.median(seconds[False])
    print(
        f"median with the canary {with_canary:.2f} s, without {without:.2f} s: it costs {with_canary - without:.2f} s"
    )
    print(f"all runs: with {[round(s, 2) for s in seconds[True]]}, without {[round(s, 2) for s in seconds[False]]}")


if __name__ == "__main__":
    main()
