"""Mutation testing of the solutions: mutmut makes the mutants, the graders have to kill them.

`generate_mutants` applies mutmut's mutation operators to each part's file in solutions/, one mutation per
mutant, and skips what mutmut itself skips (docstrings, annotations, code outside functions, decorators,
`# pragma: no mutate` lines). mutmut's own runner (trampolines selected by an environment variable, a pytest
run per mutant) cannot reach a sandboxed worker, so only its generation is used: `run_mutation` writes each
mutant out as a plain hand-in and grades them all in one batch through `coursekit.grade.engine.grade_folders`,
as `coursekit check` and `coursekit grade` grade, beside the solutions themselves.

A mutant is killed when it scores less than the solutions do. Every survivor must be in the triage file
(graders/mutants/generated/triage.yml) as `equivalent`, with the reason no correct grader can tell it from the
solutions, or as `survivor`, a gap in the graders still to close. The score is killed / (mutants - equivalent).

A mutant is named by what it changes, never by its position in a list: the file, the function, the text of the
line the mutation starts on, mutmut's operator, the code before and after, and which of identical mutations on
that line it is. A triage entry so stays attached to its mutant while other lines move, and comes loose (is
reported stale) when its own line changes, which is when it must be judged again.
"""

from __future__ import annotations

import dataclasses
import difflib
import random
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml

from coursekit.config import Course, load_course
from coursekit.errors import CoursekitError

TRIAGE_FILE = Path("graders") / "mutants" / "generated" / "triage.yml"
TRIAGE_FIELDS = ("file", "function", "line", "operator", "mutation", "occurrence", "status", "reason")
TriageStatus = Literal["equivalent", "survivor"]
Outcome = Literal["killed", "survived", "grader broke", "not graded"]


class MutationError(CoursekitError, RuntimeError):
    """Mutation testing cannot run: mutmut is missing, the triage file is malformed, the solutions lose points."""


@dataclasses.dataclass(frozen=True, order=True)
class MutantKey:
    """What a mutant changes, and where, in words that survive edits elsewhere in the file."""

    file: str
    function: str
    # The stripped text of the line the mutation starts on.
    line: str
    operator: str
    # "before -> after", each side's code with its whitespace collapsed.
    mutation: str
    # 1 for the first of identical mutations of the same line, 2 for the next, ...
    occurrence: int = 1

    def label(self) -> str:
        again = f" (#{self.occurrence})" if self.occurrence > 1 else ""
        return f"{self.file} {self.function}: {self.mutation}{again} [{self.operator}]"


@dataclasses.dataclass(frozen=True)
class Mutant:
    """The solutions with one mutation: `source` replaces solutions/`key.file` in the hand-in."""

    key: MutantKey
    part: str
    # The part's exercise the mutated function belongs to ("" when it is none of them).
    exercise: str
    lineno: int
    source: str
    diff: str


@dataclasses.dataclass(frozen=True)
class TriageEntry:
    key: MutantKey
    status: TriageStatus
    reason: str


@dataclasses.dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    outcome: Outcome
    # part id -> points lost against the solutions
    lost: dict[str, float]
    note: str = ""


@dataclasses.dataclass
class MutationReport:
    """Every graded mutant's outcome, held against the triage file."""

    results: list[MutantResult]
    triage: dict[MutantKey, TriageEntry]
    # How many mutants the solutions give in all (a sample grades fewer).
    generated: int
    seconds: float = 0.0

    def _with(self, outcome: Outcome) -> list[MutantResult]:
        return [result for result in self.results if result.outcome == outcome]

    @property
    def killed(self) -> list[MutantResult]:
        return self._with("killed")

    @property
    def survived(self) -> list[MutantResult]:
        return self._with("survived")

    @property
    def equivalent(self) -> list[MutantResult]:
        """Survivors the triage file records as equivalent."""
        return [r for r in self.survived if self._status(r) == "equivalent"]

    @property
    def known_survivors(self) -> list[MutantResult]:
        """Survivors the triage file records as gaps still to close."""
        return [r for r in self.survived if self._status(r) == "survivor"]

    @property
    def new_survivors(self) -> list[MutantResult]:
        """Survivors the triage file does not know: a gap in the graders nobody has judged yet."""
        return [r for r in self.survived if self._status(r) is None]

    @property
    def broken(self) -> list[MutantResult]:
        """Mutants a grader broke on, or whose grading could not finish: the course's problem, never a kill."""
        return self._with("grader broke") + self._with("not graded")

    @property
    def killed_but_triaged(self) -> list[MutantResult]:
        """Killed mutants the triage file still lists. An `equivalent` one that loses points means a grader
        charges a correct variant, or the entry was wrong; a `survivor` one is closed and its entry can go."""
        return [r for r in self.killed if r.mutant.key in self.triage]

    @property
    def charged_elsewhere(self) -> list[MutantResult]:
        """Killed mutants that also lose points outside their own part: one mistake charged twice."""
        return [r for r in self.killed if any(part != r.mutant.part for part in r.lost)]

    @property
    def non_equivalent(self) -> int:
        return len(self.results) - len(self.equivalent)

    @property
    def score(self) -> float:
        return len(self.killed) / self.non_equivalent if self.non_equivalent else 1.0

    def _status(self, result: MutantResult) -> TriageStatus | None:
        entry = self.triage.get(result.mutant.key)
        return None if entry is None else entry.status

    def stale_triage(self, mutants: Iterable[Mutant]) -> list[TriageEntry]:
        """Triage entries that name no mutant of `mutants` (all the solutions give): their line has changed."""
        keys = {mutant.key for mutant in mutants}
        return [entry for key, entry in self.triage.items() if key not in keys]


# --- making the mutants -------------------------------------------------------------------------------------


def _mutmut() -> Any:
    try:
        import libcst
        from mutmut.mutation import file_mutation, mutators, pragma_handling
    except ImportError as error:
        raise MutationError(f"mutation testing needs mutmut (pip install -e '.[dev]'): {error}") from None
    return libcst, file_mutation, mutators, pragma_handling


def _collapse(code: str) -> str:
    return re.sub(r"\s+", " ", code).strip()


def mutants_of_file(*, code: str, file: str, part: str, exercises: Sequence[str] = ()) -> list[Mutant]:
    """Every mutant mutmut makes of `code` (solutions/`file`), in source order.

    mutmut's MutationVisitor walks the code with its operators and skip rules; each operator is wrapped only to
    learn which one made each mutation. `exercises`: the part's exercise names, to tell which one a function is.
    """
    cst, file_mutation, mutators, pragma_handling = _mutmut()
    from libcst.metadata import MetadataWrapper, PositionProvider, WhitespaceInclusivePositionProvider

    made_by: dict[int, str] = {}

    def named(operator: Any) -> Any:
        def run(node: Any) -> Iterator[Any]:
            for mutated in operator(node):
                made_by[id(mutated)] = operator.__name__
                yield mutated

        return run

    operators = [(node_type, named(operator)) for node_type, operator in mutators.mutation_operators]
    wrapper = MetadataWrapper(cst.parse_module(code))
    # mutmut's own pragma handling; its do_not_mutate_patterns would come from mutmut's config, which has none here.
    pragmas = pragma_handling.PragmaVisitor(file)
    wrapper.visit(pragmas)
    ignored = pragma_handling.IgnoredCode(
        no_mutate_lines=pragmas.no_mutate_lines, ignore_node_lines=pragmas.ignore_node_lines, ignore_pattern_lines=set()
    )
    visitor = file_mutation.MutationVisitor(operators, ignored, None)
    wrapper.visit(visitor)
    module = wrapper.module
    positions = wrapper.resolve(PositionProvider)
    spans = wrapper.resolve(WhitespaceInclusivePositionProvider)
    names = _function_names(module, cst)
    lines = code.splitlines()

    mutants: list[Mutant] = []
    seen: dict[tuple[str, ...], int] = defaultdict(int)
    for mutation in visitor.mutations:
        function = mutation.contained_by_top_level_function
        if function is None:  # mutmut mutates functions and methods only (a trampoline per function)
            continue
        lineno = positions[mutation.original_node].start.line
        before = _collapse(module.code_for_node(mutation.original_node))
        after = _collapse(module.code_for_node(mutation.mutated_node))
        identity = (names[function], lines[lineno - 1].strip(), made_by[id(mutation.mutated_node)], before, after)
        seen[identity] += 1
        source = _mutated_source(module, code, mutation, spans[mutation.original_node])
        diff = "".join(
            difflib.unified_diff(
                code.splitlines(keepends=True),
                source.splitlines(keepends=True),
                fromfile=f"solutions/{file}",
                tofile=f"mutant/{file}",
                n=0,
            )
        )
        key = MutantKey(
            file=file,
            function=identity[0],
            line=identity[1],
            operator=identity[2],
            mutation=f"{before} -> {after}",
            occurrence=seen[identity],
        )
        exercise = next((name for name in exercises if name in identity[0].split(".")), "")
        mutants.append(Mutant(key=key, part=part, exercise=exercise, lineno=lineno, source=source, diff=diff))
    return mutants


def _mutated_source(module: Any, code: str, mutation: Any, span: Any) -> str:
    """The file with the mutation applied: its code spliced in where the original node's code stands, when both
    are one line and the original's code is exactly that slice of the file; else by rewriting the whole tree
    (exact always, about 50 times slower)."""
    before = module.code_for_node(mutation.original_node)
    after = module.code_for_node(mutation.mutated_node)
    if span.start.line == span.end.line and "\n" not in before + after:
        lines = code.splitlines(keepends=True)
        line = lines[span.start.line - 1]
        if line[span.start.column : span.end.column] == before:
            lines[span.start.line - 1] = line[: span.start.column] + after + line[span.end.column :]
            return "".join(lines)
    return str(module.deep_replace(mutation.original_node, mutation.mutated_node).code)


def _function_names(module: Any, cst: Any) -> dict[Any, str]:
    """Each top-level function or method node -> its name, `Class.method` for methods (as mutmut groups them)."""
    names: dict[Any, str] = {}
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef):
            names[statement] = statement.name.value
        elif isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            for method in statement.body.body:
                if isinstance(method, cst.FunctionDef):
                    names[method] = f"{statement.name.value}.{method.name.value}"
    return names


def generate_mutants(*, course_dir: Path, course: Course | None = None) -> list[Mutant]:
    """Every mutant of the parts' files in `course_dir`/solutions, part by part, each in source order."""
    course = course or load_course(course_dir / "course.yml")
    mutants: list[Mutant] = []
    for part in course.assignment.parts:
        code = (course_dir / "solutions" / part.file).read_text(encoding="utf-8")
        exercises = [exercise.name for exercise in part.exercises]
        mutants += mutants_of_file(code=code, file=part.file, part=part.id, exercises=exercises)
    return mutants


def sample_mutants(mutants: Sequence[Mutant], *, size: int, seed: int) -> list[Mutant]:
    """`size` mutants drawn with `seed`, taking the parts in turn so that a small sample reaches every part.

    The draw depends on the mutants' keys alone, never on the order they come in: the same solutions and seed
    give the same sample.
    """
    rng = random.Random(seed)
    by_part: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in sorted(mutants, key=lambda m: m.key):
        by_part[mutant.part].append(mutant)
    for part in sorted(by_part):
        rng.shuffle(by_part[part])
    chosen: list[Mutant] = []
    queues = [by_part[part] for part in sorted(by_part)]
    while len(chosen) < size and any(queues):
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop(0))
    return chosen


# --- the triage file ----------------------------------------------------------------------------------------


def load_triage(path: Path) -> dict[MutantKey, TriageEntry]:
    """The triage file: a list of entries with TRIAGE_FIELDS (`occurrence` may be left out for 1).

    A malformed entry, a duplicate, or an `equivalent` without a reason stops the run: a triage that cannot be
    read would hide survivors.
    """
    if not path.is_file():
        return {}
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise MutationError(f"{path}: not valid YAML: {error}") from None
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise MutationError(f"{path}: expected a list of triage entries")
    triage: dict[MutantKey, TriageEntry] = {}
    for index, entry in enumerate(entries):
        where = f"{path.name}[{index}]"
        if not isinstance(entry, dict):
            raise MutationError(f"{where}: expected a mapping with {', '.join(TRIAGE_FIELDS)}")
        unknown = sorted(set(entry) - set(TRIAGE_FIELDS))
        texts = ("file", "function", "line", "operator", "mutation", "status", "reason")
        missing = [name for name in texts if not isinstance(entry.get(name), str) or not entry[name].strip()]
        if unknown or missing:
            raise MutationError(f"{where}: missing or empty {missing}, unknown keys {unknown}")
        occurrence = entry.get("occurrence", 1)
        if not isinstance(occurrence, int) or occurrence < 1:
            raise MutationError(f"{where}: occurrence must be a whole number from 1, got {occurrence!r}")
        if entry["status"] not in ("equivalent", "survivor"):
            raise MutationError(f"{where}: status must be 'equivalent' or 'survivor', got {entry['status']!r}")
        key = MutantKey(
            file=entry["file"],
            function=entry["function"],
            line=entry["line"].strip(),
            operator=entry["operator"],
            mutation=_collapse(entry["mutation"]),
            occurrence=occurrence,
        )
        if key in triage:
            raise MutationError(f"{where}: {key.label()} is triaged twice")
        triage[key] = TriageEntry(key=key, status=entry["status"], reason=entry["reason"].strip())
    return triage


def triage_entry_yaml(result: MutantResult) -> str:
    """A triage entry for a survivor, to be judged and pasted into the triage file."""
    key = result.mutant.key
    entry: dict[str, object] = {
        "file": key.file,
        "function": key.function,
        "line": key.line,
        "operator": key.operator,
        "mutation": key.mutation,
    }
    if key.occurrence > 1:
        entry["occurrence"] = key.occurrence
    entry |= {"status": "survivor", "reason": "a check that kills it: ..."}
    return yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=1000)


# --- grading ------------------------------------------------------------------------------------------------


def _write_handin(*, course: Course, course_dir: Path, target: Path, mutant: Mutant | None) -> Path:
    """A hand-in folder as intake leaves one: the parts' modules from solutions/ (one of them mutated), the course's
    given modules."""
    target.mkdir(parents=True)
    for part in course.assignment.parts:
        shutil.copyfile(course_dir / "solutions" / part.file, target / part.file)
    for given in course.given:
        shutil.copyfile(course_dir / given, target / Path(given).name)
    if mutant is not None:
        (target / mutant.key.file).write_text(mutant.source, encoding="utf-8")
    return target


def _part_scores(result: Any) -> dict[str, float]:
    scores: dict[str, float] = defaultdict(float)
    for verdict in result.verdicts:
        scores[verdict.part] += verdict.score
    return scores


def run_mutation(
    *,
    course_dir: Path,
    sample: int | None = None,
    seed: int = 0,
    jobs: int | None = None,
    triage_path: Path | None = None,
    include: Sequence[MutantKey] = (),
) -> MutationReport:
    """Grade every mutant (or a sample of `sample`, drawn with `seed`, and the mutants named in `include`) beside
    the solutions, in one batch.

    Raises MutationError when the solutions themselves lose points (nothing would be measured), or when `include`
    names a mutant the solutions do not give.
    """
    from coursekit.grade.engine import grade_folders
    from coursekit.sandbox.bwrap import SandboxUnavailable
    from coursekit.sandbox.pool import Isolation, choose_tier

    started = time.perf_counter()
    course_dir = course_dir.resolve()
    course = load_course(course_dir / "course.yml")
    triage = load_triage(triage_path or course_dir / TRIAGE_FILE)
    mutants = generate_mutants(course_dir=course_dir, course=course)
    generated = len(mutants)
    if sample is not None:
        by_key = {mutant.key: mutant for mutant in mutants}
        unknown = [key.label() for key in include if key not in by_key]
        if unknown:
            raise MutationError(f"no mutant of the solutions is {unknown}")
        chosen = sample_mutants(mutants, size=sample, seed=seed)
        mutants = chosen + [by_key[key] for key in include if by_key[key] not in chosen]
    isolation: Isolation = "auto"
    try:
        choose_tier(isolation)
    except SandboxUnavailable:
        isolation = "none"  # the hand-ins are the course's own code: the weakest tier is enough for them
    with tempfile.TemporaryDirectory(prefix="coursekit-mutation-") as name:
        workdir = Path(name)
        handins = {"solutions": _write_handin(course=course, course_dir=course_dir, target=workdir / "s", mutant=None)}
        for index, mutant in enumerate(mutants):
            handins[f"mutant {index}"] = _write_handin(
                course=course, course_dir=course_dir, target=workdir / f"m{index}", mutant=mutant
            )
        graded = grade_folders(handins, course_dir=course_dir, jobs=jobs, isolation=isolation)

    reference = graded["solutions"]
    full = _part_scores(reference)
    short = [v for v in reference.verdicts if not v.passed]
    if reference.not_graded is not None or short:
        why = reference.not_graded or "; ".join(f"{v.name}: {v.message}" for v in short[:3])
        raise MutationError(f"the solutions do not get full marks, so no mutant can be judged: {why}")
    results = []
    for index, mutant in enumerate(mutants):
        result = graded[f"mutant {index}"]
        broke = [v for v in result.verdicts if v.grader_error]
        if result.not_graded is not None:
            results.append(MutantResult(mutant, "not graded", {}, note=result.not_graded))
            continue
        if broke:
            note = f"grader test {broke[0].test_id} broke: {broke[0].message}"
            results.append(MutantResult(mutant, "grader broke", {}, note=note))
            continue
        scores = _part_scores(result)
        lost = {part: full[part] - scores[part] for part in full if full[part] - scores[part] > 1e-9}
        failed = [v for v in result.verdicts if not v.passed]
        note = "; ".join(f"{v.name}: {v.message}" for v in failed[:2])
        results.append(MutantResult(mutant, "killed" if lost else "survived", lost, note=note))
    return MutationReport(results=results, triage=triage, generated=generated, seconds=time.perf_counter() - started)
