"""The probe registry: the kit's own probes, a course's probes file loaded by path, and their answer forms."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from repo_paths import REPO

from coursekit.sandbox import probes
from coursekit.sandbox.answers import MalformedAnswer, check_answer
from coursekit.sandbox.student import InProcessStudent, StudentError

REPOSITORY = REPO
PROBES_FILE = REPOSITORY / "graders" / "probes.py"
OTHER_COURSE = """
from typing_extensions import TypedDict
from pydantic import StrictInt

from coursekit.sandbox.probes import STRICT_ANSWER, Handin, call_student, probe


class _Doubled(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    doubled: StrictInt


@probe("doubled", answer=_Doubled, function="double")
def probe_doubled(handin: Handin, *, n: int) -> dict:
    return {"doubled": call_student(handin, handin.function("ops.double"), n)}
"""


@pytest.fixture
def other_course(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "graders" / "probes.py"
    path.parent.mkdir()
    path.write_text(OTHER_COURSE)
    yield path
    probes.load_course_probes(PROBES_FILE)  # the bundled course's again, for the tests after this one


def test_the_kits_probes_are_always_registered() -> None:
    assert {"call", "value_and_grad"} <= probes.REGISTERED.keys()
    assert all(probes.REGISTERED[name].source is None for name in ("call", "value_and_grad"))


def test_loading_a_probes_file_registers_its_probes_once() -> None:
    probes.load_course_probes(PROBES_FILE)
    registered = dict(probes.REGISTERED)
    probes.load_course_probes(PROBES_FILE)  # idempotent: the file is not run again
    assert registered == probes.REGISTERED
    course = {name for name, registration in registered.items() if registration.source == str(PROBES_FILE)}
    assert course and not course & {"call", "value_and_grad"}


def test_another_course_replaces_the_previous_courses_probes(other_course: Path, tmp_path: Path) -> None:
    probes.load_course_probes(PROBES_FILE)
    previous = {name for name, registration in probes.REGISTERED.items() if registration.source is not None}
    probes.load_course_probes(other_course)
    assert {name for name, r in probes.REGISTERED.items() if r.source is not None} == {"doubled"}
    assert not previous & probes.PROBES.keys() and {"call", "value_and_grad"} <= probes.PROBES.keys()
    handin = tmp_path / "handin"
    handin.mkdir()
    (handin / "ops.py").write_text("def double(n):\n    return 2 * n\n")
    student = InProcessStudent(handin, probes_file=other_course)
    assert student.run("doubled", n=21) == {"doubled": 42}
    with pytest.raises(MalformedAnswer, match="doubled"):
        check_answer("doubled", {"doubled": "42"})
    with pytest.raises(MalformedAnswer, match="extra"):
        check_answer("doubled", {"doubled": 42, "extra": 1})
    (handin / "ops.py").write_text("def double(n):\n    return str(n)\n")
    with pytest.raises(StudentError, match="malformed answer"):
        InProcessStudent(handin, probes_file=other_course).run("doubled", n=21)


def test_a_name_registered_twice_is_refused(tmp_path: Path, other_course: Path) -> None:
    twice = tmp_path / "twice.py"
    twice.write_text(OTHER_COURSE + textwrap.dedent(OTHER_COURSE.split("@probe", 1)[1].join(["@probe", ""])))
    with pytest.raises(probes.ProbeRegistrationError, match="'doubled' is registered twice"):
        probes.load_course_probes(twice)
    assert "doubled" not in probes.REGISTERED  # a file that fails to load leaves none of its probes behind


def test_a_course_probe_cannot_take_a_kit_probes_name(tmp_path: Path, other_course: Path) -> None:
    clash = tmp_path / "clash.py"
    clash.write_text(OTHER_COURSE.replace('@probe("doubled"', '@probe("call"'))
    with pytest.raises(probes.ProbeRegistrationError, match="'call' is registered twice"):
        probes.load_course_probes(clash)
    assert probes.REGISTERED["call"].source is None


def test_a_handin_never_imports_another_handins_module_of_the_same_name(tmp_path: Path) -> None:
    for value in (1, 2):
        folder = tmp_path / f"handin{value}"
        folder.mkdir()
        (folder / "ops.py").write_text(f"def value():\n    return {value}\n")
        (folder / "helper.py").write_text(f"VALUE = {value}\n")
        (folder / "uses.py").write_text("from helper import VALUE\n\ndef value():\n    return VALUE\n")
    for value in (1, 2, 1):
        handin = probes.Handin(tmp_path / f"handin{value}")
        assert handin.function("ops.value")() == value
        assert handin.function("uses.value")() == value
