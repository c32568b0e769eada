"""The trusted side's handle on a student's code: `student.run(probe, **arguments)` returns plain data.

Graders only ever see what a probe (coursekit.sandbox.probes) sent back, decoded by coursekit.sandbox.wire within its limits.
`InProcessStudent` runs the probes in this process, for instructors debugging a grader; class
grading uses `coursekit.sandbox.pool`'s sandboxed students, which have the same interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from coursekit.sandbox import wire

# A failure message reaches the results, the feedback and the instructor's summary: a few lines, never pages.
MAX_FAILURE_CHARS = 2000


class StudentError(Exception):
    """The student's code failed a call; `message` is what the student reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StudentTimeout(StudentError):
    """The student's code ran past the part's time limit."""


class StudentCrash(StudentError):
    """The worker running the student's code died (os._exit, a signal, out of memory)."""


class Student(Protocol):
    def run(self, probe: str, /, **arguments: Any) -> dict[str, Any]:
        """Run a probe on the student's code; raise StudentError when their code failed."""
        ...


def failure_of(message: str) -> StudentError:
    """The StudentError for a failure the student's process reported, cut to what a report can carry."""
    return StudentError(wire.fit_text(message, MAX_FAILURE_CHARS))


def answer_of(response: bytes, *, probe: str) -> dict[str, Any]:
    """Decode a worker's response to `probe`, raising StudentError for a failure, for anything that is not plain
    data, and for an answer not of the probe's form (coursekit.sandbox.answers)."""
    try:
        answer = wire.decode(response)
    except wire.WireError as error:
        raise StudentError(f"the hand-in's code sent back something that is not plain data ({error})") from None
    if not isinstance(answer, dict) or not ({"ok"} == answer.keys() or {"failure"} == answer.keys()):
        raise StudentError("the hand-in's code sent back a malformed answer")
    if "failure" in answer:
        failure = answer["failure"]
        if type(failure) is not str:
            raise StudentError("the hand-in's code sent back a malformed answer")
        raise failure_of(failure)
    result = answer["ok"]
    if not isinstance(result, dict):
        raise StudentError("the hand-in's code sent back a malformed answer")
    # The answer forms import torch: here, not at import, so that a pool starts its workers before this process
    # has imported torch (the workers' start and this import then share the cores).
    from coursekit.sandbox.answers import MalformedAnswer, check_answer

    try:
        return check_answer(probe, result)
    except MalformedAnswer as error:
        raise StudentError(f"the hand-in's code sent back a malformed answer ({error})") from None


class InProcessStudent:
    """Runs probes in this process. Only for trusted code: a hand-in here could patch the graders.

    `probes_file`: the course's probes (course.yml's `chapter.probes`); without it, only the kit's own probes run.
    """

    def __init__(self, handin_dir: Path, probes_file: Path | None = None) -> None:
        from coursekit.sandbox import probes

        if probes_file is not None:
            probes.load_course_probes(probes_file)
        self.handin = probes.Handin(handin_dir)

    def run(self, probe: str, /, **arguments: Any) -> dict[str, Any]:
        from coursekit.sandbox import probes

        request = wire.encode({"probe": probe, "arguments": arguments})
        return answer_of(probes.handle_request(self.handin, request), probe=probe)
