"""course.yml: the course, its assignment, parts, points, limits and thresholds, validated on load.

A bad file raises `CourseConfigError` naming the file, the line and the key, e.g.
``course.yml, line 14: assignment.parts[1].points: Input should be greater than 0``.

The tool spells no part of the contract itself: the parts, their files and the exercises' names, the modules
given to every student, the data and the chapter's own code (its probes, the feedback figure, the notebook's
checks) are all read from here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from coursekit.errors import CoursekitError

# A path inside the course folder, written with forward slashes: "data/measurements.csv".
_COURSE_PATH = re.compile(r"(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_./-]+")


class CourseConfigError(CoursekitError, ValueError):
    """course.yml is missing, not YAML, or does not match the schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Book(_Strict):
    title: str
    authors: str
    chapter: int = Field(gt=0)
    chapter_title: str


class Exercise(_Strict):
    id: str = Field(pattern=r"^\d+\.\d+$")
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the contract name it implements")
    title: str


class Part(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    file: str = Field(pattern=r"^[a-z_]+\.py$")
    points: float = Field(gt=0)
    exercises: list[Exercise] = Field(min_length=1)

    @property
    def module(self) -> str:
        return self.file.removesuffix(".py")


class Assignment(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    title: str
    parts: list[Part] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Assignment:
        part_ids = [part.id for part in self.parts]
        if len(set(part_ids)) != len(part_ids):
            raise ValueError(f"part ids must be unique, got {part_ids}")
        exercise_ids = [ex.id for part in self.parts for ex in part.exercises]
        if len(set(exercise_ids)) != len(exercise_ids):
            raise ValueError(f"exercise ids must be unique, got {exercise_ids}")
        return self

    @property
    def points(self) -> float:
        return sum(part.points for part in self.parts)

    def part(self, part_id: str) -> Part:
        for part in self.parts:
            if part.id == part_id:
                return part
        raise KeyError(part_id)

    def exercise(self, exercise_id: str) -> tuple[Part, Exercise]:
        for part in self.parts:
            for exercise in part.exercises:
                if exercise.id == exercise_id:
                    return part, exercise
        raise KeyError(exercise_id)


class Limits(_Strict):
    """Bounds on one part of one hand-in while the student's code runs."""

    time_seconds: float = Field(gt=0, le=3600)
    memory_mb: int = Field(ge=256)
    processes: int = Field(ge=8)
    output_kb: int = Field(ge=1)
    file_size_mb: int = Field(ge=1)
    open_files: int = Field(ge=32)
    # What a trusted grading process may allocate beyond what it has mapped at start (torch maps far more address
    # space than it touches); past it, only the hand-in it was grading is affected: it is marked not graded.
    grading_memory_mb: int = Field(default=4096, ge=512)


class IntakeLimits(_Strict):
    """Bounds on one hand-in as it is unpacked."""

    max_total_mb: float = Field(gt=0)
    max_entries: int = Field(gt=0)


# When Gradescope shows a check (or run_autograder's log) to the student, in its results.json spelling.
Visibility = Literal["visible", "after_due_date", "after_published", "hidden"]


class CheckVisibility(_Strict):
    """When Gradescope shows each grader check to the student: one setting for the checks that mirror the
    public tests (graders marked ``@pytest.mark.public``), one for the rest."""

    # Their hints say no more than exercises/tests already does.
    public_checks: Visibility = "visible"
    # Shown before the due date, with resubmissions, their hints would become an answer key.
    other_checks: Visibility = "after_due_date"

    def of(self, *, public: bool) -> Visibility:
        """When a check is shown: `public` for one that mirrors a public test."""
        return self.public_checks if public else self.other_checks


class Gradescope(_Strict):
    """What results.json tells Gradescope about showing the results (its test and stdout visibility)."""

    visibility: CheckVisibility = Field(default_factory=CheckVisibility)
    # run_autograder's own log: the kit's progress and the instructor's diagnostics, for staff.
    stdout_visibility: Visibility = "hidden"


class LatePolicy(_Strict):
    """What a late hand-in loses. Days late are whole days begun after the due date: a minute late is one day."""

    # Percent of the assignment's points deducted per day late (Canvas's rule), never below zero.
    penalty_percent_per_day: float = Field(default=0, ge=0, le=100)
    # A hand-in more days late than this scores zero; none: no cutoff.
    cutoff_days: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _says_something(self) -> LatePolicy:
        if self.penalty_percent_per_day == 0 and self.cutoff_days is None:
            raise ValueError("a late policy needs penalty_percent_per_day above 0, or cutoff_days")
        return self


class ChapterCode(_Strict):
    """The chapter's own code beyond solutions/ and graders' tests, on the course side, each path relative to the
    course folder. Only `probes` is ever seen by student code (mounted read-only into the sandbox)."""

    # Registers the chapter's probes by name (coursekit.sandbox.probes.probe), each with its answer's form.
    probes: str | None = None
    # Defines figure_png(data) -> bytes | None: the picture a grader's "figure" attachment becomes in the feedback.
    figure: str | None = None
    # What the picture shows, said to the student above it.
    figure_caption: str = "A picture of your work"
    # Python code the notebook ends with, ungraded: the exercises put together (it runs in the notebook only).
    notebook_finale: str | None = None


class Script(_Strict):
    """A script of exercises/ given to students to run on their own code (never graded), listed in their README."""

    file: str = Field(pattern=r"^[a-z_]+\.py$")
    # What running it does, in the student README (markdown).
    description: str


class Release(_Strict):
    """What the student release says about the chapter."""

    # The student README's opening paragraph (markdown): what the student builds, in the chapter's words.
    introduction: str = ""
    scripts: list[Script] = Field(default_factory=list)


def derived_seed(seed: int, name: str) -> int:
    """A 63-bit seed from a course's seed and a name, the same in every process."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**63


class Course(_Strict):
    title: str
    book: Book
    assignment: Assignment
    # Modules the kit puts in every hand-in and in the release, never a student's copy: "data/loader.py".
    given: list[str] = Field(default_factory=list)
    # Data files the release and the autograder carry: "data/measurements.csv".
    data: list[str] = Field(default_factory=list)
    chapter: ChapterCode = Field(default_factory=ChapterCode)
    release: Release = Field(default_factory=Release)
    limits: Limits
    intake: IntakeLimits
    thresholds: dict[str, float] = Field(default_factory=dict)
    # Seeds the graders' random inputs (with each test's name): every hand-in of a batch meets the same inputs,
    # whatever order it is graded in. Change it each term for fresh inputs.
    seed: int = Field(default=0, ge=0)
    gradescope: Gradescope = Field(default_factory=Gradescope)
    # None: a late hand-in is flagged in its feedback and the report, and loses nothing.
    late_policy: LatePolicy | None = None

    def seed_for(self, name: str) -> int:
        """A seed from course.yml's `seed` and a name (a grader test's node id, an input's name): a new seed
        refreshes every input, and every hand-in of a class meets the same ones."""
        return derived_seed(self.seed, name)

    @model_validator(mode="after")
    def _valid_files(self) -> Course:
        chapter = self.chapter
        for path in [*self.given, *self.data, chapter.probes, chapter.figure, chapter.notebook_finale]:
            if path is not None and not _COURSE_PATH.fullmatch(path):
                raise ValueError(f"{path!r} is not a path inside the course folder")
        for path in [*self.given, chapter.probes, chapter.figure, chapter.notebook_finale]:
            if path is not None and not path.endswith(".py"):
                raise ValueError(f"{path!r} is not a .py file")
        names = [part.file for part in self.assignment.parts] + self.given_modules
        if len(set(names)) != len(names):
            raise ValueError(f"the parts' files and the given modules must have distinct names, got {names}")
        return self

    @property
    def given_modules(self) -> list[str]:
        """The file names of the given modules, as they sit beside the student's: ["loader.py"]."""
        return [PurePosixPath(path).name for path in self.given]

    @property
    def contract(self) -> dict[str, tuple[str, ...]]:
        """Each part's file and the names it must define: {"ops.py": ("square", "cube")}."""
        return {part.file: tuple(ex.name for ex in part.exercises) for part in self.assignment.parts}

    def contract_files_text(self, conjunction: Literal["and", "or"] = "and") -> str:
        """The parts' files for a message: "ops.py, grid.py and loop.py" (or "..., grid.py or loop.py")."""
        files = [part.file for part in self.assignment.parts]
        return files[0] if len(files) == 1 else f"{', '.join(files[:-1])} {conjunction} {files[-1]}"


def _line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """1-based line of the YAML node at pydantic location `loc` (the deepest node that exists)."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [value for k, value in node.value if k.value == key]
            if not match:
                break
            # Point at the key itself when the error is about it.
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node.start_mark.line + 1


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for key in loc:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


def parse_course(text: str, *, source: str = "course.yml") -> Course:
    """Validate course.yml's text; errors name `source`, the line and the key."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise CourseConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    if root is None or not isinstance(data, dict):
        raise CourseConfigError(f"{source}: expected a mapping with title, book, assignment, limits")
    try:
        return Course.model_validate(data)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            loc = tuple(problem["loc"])
            lines.append(f"{source}, line {_line_of(root, loc)}: {_format_loc(loc)}: {problem['msg']}")
        raise CourseConfigError("\n".join(lines)) from None


class KitSourceError(CoursekitError, FileNotFoundError):
    """The kit runs without its source's pyproject.toml beside its package (an installed wheel)."""


def kit_pyproject() -> Path:
    """The kit's own pyproject.toml, beside its package: the pins the student release and the Gradescope autograder
    install (the graders run that environment, wherever the course folder lies), and what pip builds the kit from."""
    path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not path.is_file():
        raise KitSourceError(f"{path} is missing: the release and the autograder need the kit's source, not a wheel")
    return path


def load_course(path: Path) -> Course:
    """Read and validate a course.yml."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CourseConfigError(f"{path}: cannot read: {error.strerror}") from None
    return parse_course(text, source=str(path))


def threshold_name_problems(path: Path, course: Course, read: Mapping[str, Sequence[str]]) -> list[str]:
    """course.yml's threshold names against the ones the graders read (name -> where each reads it): a name that
    no grader reads (a misspelling) or that course.yml lacks is a problem naming its line."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    assert root is not None, "load_course read this file already"
    problems = []
    known = ", ".join(sorted(read)) or "none"
    for name in course.thresholds:
        if name not in read:
            line = _line_of(root, ("thresholds", name))
            problems.append(f"{path}, line {line}: thresholds.{name}: no grader reads it (the graders read: {known})")
    section = f"line {_line_of(root, ('thresholds',))}" if "thresholds" in course.model_fields_set else "none"
    for name, places in sorted(read.items()):
        if name not in course.thresholds:
            problems.append(
                f"{places[0]}: reads course.thresholds[{name!r}], which {path}'s thresholds ({section}) does not define"
            )
    return problems
