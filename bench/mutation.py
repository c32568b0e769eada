"""Mutation score of the graders: mutmut's mutants of solutions/, graded by the real graders in one batch.

    .venv/bin/python bench/mutation.py [--sample N] [--seed S] [--jobs J] [--out bench/out/mutation.json]

Prints killed / non-equivalent and the score, then every survivor (file:line, its exercise, the diff), marked
NEW when graders/mutants/generated/triage.yml does not know it, with a triage entry to judge and paste in. Also
lists triage entries that no longer name a mutant (full runs only), killed mutants the triage still lists, and
killed mutants that lose points outside their own part. Exits 1 when a survivor is new or a grader broke.
The full run grades every mutant (about 220) as a class is graded; `--sample` draws N of them, parts in turn.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from coursekit.check.mutation import (
    TRIAGE_FILE,
    MutantResult,
    MutationReport,
    generate_mutants,
    run_mutation,
    triage_entry_yaml,
)

ROOT = Path(__file__).resolve().parent.parent


def where(result: MutantResult) -> str:
    mutant = result.mutant
    exercise = f" ({mutant.exercise})" if mutant.exercise else ""
    return f"{mutant.key.file}:{mutant.lineno}{exercise} {mutant.key.mutation} [{mutant.key.operator}]"


def show(report: MutationReport, *, course_dir: Path, sampled: bool) -> bool:
    """Print the report; return whether it holds (no new survivor, no broken grader, no charged equivalent)."""
    graded = len(report.results)
    what = f"{graded} of {report.generated} mutants" if sampled else f"{graded} mutants"
    print(f"mutation testing: {what} graded in {report.seconds:.0f} s")
    print(
        f"killed {len(report.killed)} / non-equivalent {report.non_equivalent} = {100 * report.score:.1f}%"
        f"  (equivalent {len(report.equivalent)}, known survivors {len(report.known_survivors)},"
        f" new survivors {len(report.new_survivors)}, grader broke {len(report.broken)})"
    )
    for result in report.known_survivors + report.new_survivors:
        entry = report.triage.get(result.mutant.key)
        mark = "survivor" if entry is not None else "NEW survivor"
        print(f"\n{mark}: {where(result)}")
        if entry is not None:
            print(f"  triage: {entry.reason}")
        print("  " + result.mutant.diff.rstrip().replace("\n", "\n  "))
    if report.new_survivors:
        print(f"\nnew survivors, to judge and add to {TRIAGE_FILE}:")
        for result in report.new_survivors:
            print(triage_entry_yaml(result).rstrip())
    for result in report.broken:
        print(f"\n{result.outcome}: {where(result)}: {result.note}")
    for result in report.killed_but_triaged:
        entry = report.triage[result.mutant.key]
        if entry.status == "equivalent":
            print(f"\ntriaged equivalent, yet loses points (a grader charges a correct variant?): {where(result)}")
            print(f"  {result.note}")
        else:
            print(f"\nnow killed, its triage entry can go: {where(result)}")
    for result in report.charged_elsewhere:
        lost = ", ".join(f"{part} -{points:g}" for part, points in result.lost.items())
        print(f"\ncharged outside its part {result.mutant.part} ({lost}): {where(result)}")
    stale = [] if sampled else report.stale_triage(generate_mutants(course_dir=course_dir))
    for entry in stale:
        print(f"\nstale triage entry (its line changed, judge the mutant again): {entry.key.label()}")
    charged_equivalent = [r for r in report.killed_but_triaged if report.triage[r.mutant.key].status == "equivalent"]
    return not (report.new_survivors or report.broken or charged_equivalent)


def as_json(report: MutationReport) -> dict[str, object]:
    return {
        "graded": len(report.results),
        "generated": report.generated,
        "killed": len(report.killed),
        "non_equivalent": report.non_equivalent,
        "score": report.score,
        "seconds": report.seconds,
        "mutants": [
            {
                **{field: getattr(r.mutant.key, field) for field in ("file", "function", "line", "operator")},
                "mutation": r.mutant.key.mutation,
                "occurrence": r.mutant.key.occurrence,
                "lineno": r.mutant.lineno,
                "part": r.mutant.part,
                "exercise": r.mutant.exercise,
                "outcome": r.outcome,
                "triage": None if (e := report.triage.get(r.mutant.key)) is None else e.status,
                "lost": r.lost,
                "note": r.note,
                "diff": r.mutant.diff,
            }
            for r in report.results
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=None, help="grade N mutants drawn with --seed (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    parser.add_argument("--jobs", type=int, default=None, help="hand-ins graded at a time (default: one per core)")
    parser.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: this repository)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "mutation.json", help="JSON report")
    args = parser.parse_args()
    report = run_mutation(course_dir=args.course, sample=args.sample, seed=args.seed, jobs=args.jobs)
    holds = show(report, course_dir=args.course, sampled=args.sample is not None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(as_json(report), indent=1), encoding="utf-8")
    print(f"\nwritten: {args.out}")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
