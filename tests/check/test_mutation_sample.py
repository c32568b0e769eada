"""Mutation testing (coursekit.check.mutation): mutmut's mutants of the solutions, graded by the real graders.

The full run is bench/mutation.py; here a small deterministic sample of it is graded, and must hold against the
triage file: every survivor in it recorded, no equivalent mutant charged.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.check.mutation import (
    TRIAGE_FILE,
    MutantKey,
    MutantResult,
    MutationError,
    MutationReport,
    TriageEntry,
    generate_mutants,
    load_triage,
    mutants_of_file,
    run_mutation,
    sample_mutants,
)

MUTANTS = generate_mutants(course_dir=REPO)
SOLUTIONS = REPO / "solutions"


def test_mutants_are_named_once_and_the_same_each_run() -> None:
    keys = [mutant.key for mutant in MUTANTS]
    assert len(keys) > 150, "mutmut should make a mutant of nearly every operator in the solutions"
    assert len(set(keys)) == len(keys)
    assert keys == [mutant.key for mutant in generate_mutants(course_dir=REPO)]
    assert {mutant.part for mutant in MUTANTS} == {"activations", "model", "training"}


def test_a_mutant_keeps_its_name_when_other_lines_move() -> None:
    code = (SOLUTIONS / "activations.py").read_text(encoding="utf-8")
    moved = code.replace("import torch\n", "import torch\n\n# a comment that moves every line below it\n", 1)
    before = mutants_of_file(code=code, file="activations.py", part="activations")
    after = mutants_of_file(code=moved, file="activations.py", part="activations")
    assert [m.key for m in before] == [m.key for m in after]
    assert [m.lineno + 2 for m in before] == [m.lineno for m in after]


def test_a_mutant_is_the_solution_with_one_change_outside_docstrings() -> None:
    for mutant in MUTANTS:
        original = (SOLUTIONS / mutant.key.file).read_text(encoding="utf-8")
        assert mutant.source != original
        ast.parse(mutant.source)  # every mutant is a hand-in that imports; the graders must judge its behaviour
        changed = [line for line in mutant.diff.splitlines() if line.startswith("-") and not line.startswith("---")]
        assert changed and all('"""' not in line for line in changed), mutant.diff
        assert f"solutions/{mutant.key.file}" in mutant.diff
        assert mutant.exercise, f"{mutant.key.label()} is in no exercise"


def test_a_sample_is_the_same_for_the_same_seed_and_reaches_every_part() -> None:
    first = sample_mutants(MUTANTS, size=3, seed=7)
    assert [m.key for m in first] == [m.key for m in sample_mutants(list(reversed(MUTANTS)), size=3, seed=7)]
    assert {m.part for m in first} == {"activations", "model", "training"}
    assert [m.key for m in first] != [m.key for m in sample_mutants(MUTANTS, size=3, seed=8)]


def test_the_triage_file_names_only_mutants_the_solutions_give() -> None:
    triage = load_triage(REPO / TRIAGE_FILE)
    keys = {mutant.key for mutant in MUTANTS}
    stale = [entry.key.label() for entry in triage.values() if entry.key not in keys]
    assert not stale, f"judge these again, their line changed: {stale}"
    assert all(len(entry.reason) > 20 for entry in triage.values())


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[{file: a.py}]", "missing or empty"),
        ("{file: a.py}", "expected a list"),
        ("- [unclosed", "not valid YAML"),
    ],
)
def test_a_malformed_triage_file_stops_the_run(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "triage.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MutationError, match=complaint):
        load_triage(path)


def test_an_equivalent_needs_a_status_and_is_triaged_once(tmp_path: Path) -> None:
    entry = "- {file: a.py, function: f, line: 'x = 1', operator: operator_number, mutation: '1 -> 2', "
    path = tmp_path / "triage.yml"
    path.write_text(entry + "status: equivalent-ish, reason: r}\n", encoding="utf-8")
    with pytest.raises(MutationError, match="status must be"):
        load_triage(path)
    path.write_text((entry + "status: equivalent, reason: r}\n") * 2, encoding="utf-8")
    with pytest.raises(MutationError, match="triaged twice"):
        load_triage(path)


def _result(mutant_index: int, outcome: str, lost: dict[str, float] | None = None) -> MutantResult:
    return MutantResult(MUTANTS[mutant_index], outcome, lost or {})  # type: ignore[arg-type]


def test_the_score_leaves_out_only_what_the_triage_calls_equivalent() -> None:
    equivalent, known, new = MUTANTS[0].key, MUTANTS[1].key, MUTANTS[2].key
    triage: dict[MutantKey, TriageEntry] = {
        equivalent: TriageEntry(equivalent, "equivalent", "no input tells them apart"),
        known: TriageEntry(known, "survivor", "a check at x = 0 kills it"),
        MUTANTS[3].key: TriageEntry(MUTANTS[3].key, "equivalent", "wrongly thought equivalent"),
    }
    report = MutationReport(
        results=[
            _result(0, "survived"),
            _result(1, "survived"),
            _result(2, "survived"),
            _result(3, "killed", {"activations": 1.0}),
            _result(4, "killed", {"activations": 1.0, "training": 2.0}),
            _result(5, "grader broke"),
        ],
        triage=triage,
        generated=len(MUTANTS),
    )
    assert [r.mutant.key for r in report.equivalent] == [equivalent]
    assert [r.mutant.key for r in report.known_survivors] == [known]
    assert [r.mutant.key for r in report.new_survivors] == [new]
    assert report.non_equivalent == 5 and report.score == pytest.approx(2 / 5)
    assert [r.mutant.key for r in report.killed_but_triaged] == [MUTANTS[3].key]
    assert [r.mutant.key for r in report.charged_elsewhere] == [MUTANTS[4].key]
    assert [r.mutant.key for r in report.broken] == [MUTANTS[5].key]


# A mutant that only changes how often training prints progress: no grader may charge it, and it must survive.
PRINTS_LESS_OFTEN = MutantKey(
    file="training.py",
    function="training_loop",
    line="if epoch == 1 or epoch % 1000 == 0:",
    operator="operator_number",
    mutation="1000 -> 1001",
)


@pytest.mark.slow
def test_a_sample_of_mutants_is_killed_or_triaged() -> None:
    """Three mutants (one per part, seed 2026) and one known equivalent, graded with the solutions in one batch.

    Five hand-ins, each graded in every part: 83 s for four of them on 2 cores under a load of about 8 (other
    jobs running), 21 s of CPU in all (user + sys, start-up and mutant generation included).
    """
    report = run_mutation(course_dir=REPO, sample=3, seed=2026, include=[PRINTS_LESS_OFTEN])
    assert len(report.results) == 4
    surviving = {r.mutant.key for r in report.survived}
    assert PRINTS_LESS_OFTEN in surviving, "a mutant no grader can see must survive: the run cannot tell otherwise"
    assert report.triage[PRINTS_LESS_OFTEN].status == "equivalent"
    assert not report.new_survivors, [r.mutant.diff for r in report.new_survivors]
    assert not report.broken, [r.note for r in report.broken]
    charged = [r.note for r in report.killed_but_triaged if report.triage[r.mutant.key].status == "equivalent"]
    assert not charged, charged
