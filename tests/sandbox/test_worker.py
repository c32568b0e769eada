"""The worker pool answers probes like InProcessStudent; a timeout, crash or flood costs only its session."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from repo_paths import HOSTILE_HANDINS, REPO

from coursekit.config import Limits
from coursekit.errors import CoursekitError
from coursekit.sandbox.pool import MissingProbesFile, WorkerPool, function_name
from coursekit.sandbox.probes import load_course_probes
from coursekit.sandbox.student import InProcessStudent, StudentCrash, StudentTimeout

REPOSITORY = REPO
ATTACKS = HOSTILE_HANDINS
PROBES_FILE = REPOSITORY / "graders" / "probes.py"
# Generous time: on a loaded 2-core CI machine the first probe (imports included) can take seconds.
LIMITS = Limits(time_seconds=20, memory_mb=1024, processes=32, output_kb=8, file_size_mb=4, open_files=64)
LAYERS = [("linear", [1, 4]), ("tanh", []), ("linear", [4, 1])]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with WorkerPool(
        limits=LIMITS, scratch_dir=tmp_path_factory.mktemp("scratch"), slots=1, probes_file=PROBES_FILE
    ) as pool:
        yield pool


def test_a_missing_probes_file_is_the_courses_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "graders" / "probes.py"
    with pytest.raises(MissingProbesFile, match=rf"probes file {re.escape(str(missing))} .*chapter\.probes") as raised:
        WorkerPool(limits=LIMITS, scratch_dir=tmp_path / "scratch", slots=1, probes_file=missing)
    # The CLI reports a CoursekitError in one line instead of a traceback.
    assert isinstance(raised.value, CoursekitError)
    assert not (tmp_path / "scratch").exists()  # refused before anything was made


@pytest.fixture(scope="module")
def handin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("handin")
    for source in (REPOSITORY / "solutions").glob("*.py"):
        shutil.copyfile(source, folder / source.name)
    return folder


def probe_requests() -> list[tuple[str, dict[str, object]]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, generator=generator) * 30
    state = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).state_dict()
    t_u = torch.rand(8, 1, generator=generator) * 5
    return [
        ("call", {"function": "activations.tanh", "args": [x], "kwargs": {}}),
        ("value_and_grad", {"function": "activations.softplus", "x": x, "kwargs": {"beta": 2.0}, "grad_output": x}),
        (
            "value_and_grad_calls",
            {
                "function": "activations.hardtanh",
                "calls": [
                    {"x": x, "kwargs": {}, "grad_output": None},
                    {"x": x.double(), "kwargs": {"min_val": -2.0, "max_val": 3.0}, "grad_output": x.double()},
                ],
            },
        ),
        ("model_structure", {"n_hidden": 5}),
        ("count_parameters", {"layers": LAYERS, "frozen": ["0.bias"]}),
        (
            "training_loop",
            {
                "layers": LAYERS,
                "state": state,
                "optimizer": "sgd",
                "lr": 1e-2,
                "n_epochs": 5,
                "t_u_train": t_u[:6],
                "t_u_val": t_u[6:],
                "t_c_train": t_u[:6] * 2,
                "t_c_val": t_u[6:] * 2,
            },
        ),
    ]


def assert_same(left: object, right: object) -> None:
    if isinstance(left, torch.Tensor):
        assert isinstance(right, torch.Tensor)
        torch.testing.assert_close(left, right)
    elif isinstance(left, dict):
        assert isinstance(right, dict) and left.keys() == right.keys()
        for key in left:
            assert_same(left[key], right[key])
    elif isinstance(left, list | tuple):
        assert isinstance(right, list | tuple) and len(left) == len(right)
        for a, b in zip(left, right, strict=True):
            assert_same(a, b)
    else:
        assert left == right


def test_a_correct_handin_answers_like_in_process(pool: WorkerPool, handin: Path) -> None:
    in_process = InProcessStudent(handin, probes_file=PROBES_FILE)
    with pool.session(slot=0, handin_dir=handin, part="activations") as student:
        for probe, arguments in probe_requests():
            answer, expected = student.run(probe, **arguments), in_process.run(probe, **arguments)
            if probe == "model_structure":  # a fresh model's weights are random in each process
                answer.pop("state"), expected.pop("state")
            assert_same(answer, expected)


def test_calls_in_one_request_are_answered_as_requests_of_their_own(tmp_path: Path) -> None:
    """value_and_grad_calls answers each call as value_and_grad would, in order; a call that fails answers its
    failure in its place and the calls after it still run."""
    (tmp_path / "ops.py").write_text(
        "import torch\n"
        "def f(x, scale=1.0):\n"
        "    if x.dim() == 0:\n"
        "        raise ValueError('no scalars here')\n"
        "    return torch.exp(x * scale) + torch.rand(())  # the random state is reset for every call\n"
    )
    student = InProcessStudent(tmp_path)
    x = torch.linspace(-2, 2, 5, dtype=torch.float64)
    calls = [
        {"x": x, "kwargs": {}, "grad_output": torch.ones_like(x)},
        {"x": torch.tensor(1.0), "kwargs": {}, "grad_output": None},
        {"x": x, "kwargs": {"scale": 2.0}, "grad_output": None},
    ]
    answers = student.run("value_and_grad_calls", function="ops.f", calls=calls)["answers"]
    assert len(answers) == 3
    assert answers[1] == {"failure": "ops.py, line 4, in f: ValueError: no scalars here"}
    for answer, call in zip(answers[::2], calls[::2], strict=True):
        assert_same(answer, student.run("value_and_grad", function="ops.f", **call))


def test_a_timeout_costs_only_its_session(tmp_path: Path, handin: Path) -> None:
    limits = LIMITS.model_copy(update={"time_seconds": 3})
    with WorkerPool(limits=limits, scratch_dir=tmp_path, slots=1, probes_file=PROBES_FILE) as pool:
        with pool.session(slot=0, handin_dir=ATTACKS / "busy_loop", part="activations") as student:
            # The first call also imports the module, so its message names both; the rest fail at once alike.
            first = r"^tanh \(or the import of your module before it\) did not return within 3 s$"
            with pytest.raises(StudentTimeout, match=first):
                student.run("call", function="activations.tanh", args=[1.0], kwargs={})
            with pytest.raises(StudentTimeout, match=first):
                student.run("call", function="activations.relu", args=[1.0], kwargs={})
        with pool.session(slot=0, handin_dir=handin, part="activations") as student:
            assert student.run("call", function="activations.relu", args=[torch.tensor([-1.0])], kwargs={})


def test_a_crash_costs_only_its_session(pool: WorkerPool, handin: Path) -> None:
    message = "your code ended the worker process (exit code 3) while running tanh"
    with pool.session(slot=0, handin_dir=ATTACKS / "exits_at_call", part="activations") as student:
        with pytest.raises(StudentCrash) as crash:
            student.run("call", function="activations.tanh", args=["os._exit"], kwargs={})
        assert crash.value.message == message
        with pytest.raises(StudentCrash):
            student.run("call", function="activations.tanh", args=["sys.exit"], kwargs={})
    test_a_correct_handin_answers_like_in_process(pool, handin)


def test_huge_output_is_capped_with_a_note(pool: WorkerPool, handin: Path) -> None:
    with pool.session(slot=0, handin_dir=ATTACKS / "flood_output", part="activations") as student:
        answer = student.run("call", function="activations.tanh", args=[torch.tensor([0.5])], kwargs={})
    torch.testing.assert_close(answer["result"], torch.tanh(torch.tensor([0.5])))
    assert student.output.startswith("spam spam")
    assert "[output cut:" in student.output
    assert len(student.output.encode()) < LIMITS.output_kb * 1024 + 200
    test_a_correct_handin_answers_like_in_process(pool, handin)


def test_a_session_sees_only_its_own_files(pool: WorkerPool, handin: Path, tmp_path: Path) -> None:
    (tmp_path / "activations.py").write_text("import os\n\ndef tanh(x):\n    return sorted(os.listdir('.'))\n")
    (tmp_path / "notes.txt").write_text("not copied")
    (tmp_path / "model.py").symlink_to(handin / "model.py")
    for _ in range(2):  # the second session finds nothing of the first
        with pool.session(slot=0, handin_dir=tmp_path, part="activations") as student:
            listing = student.run("call", function="activations.tanh", args=[1.0], kwargs={})["result"]
        assert listing == ["activations.py"]


def test_without_isolation_it_still_runs_and_says_what_is_lost(tmp_path: Path, handin: Path) -> None:
    limits = LIMITS.model_copy(update={"time_seconds": 30})
    with WorkerPool(limits=limits, scratch_dir=tmp_path, slots=1, isolation="none", probes_file=PROBES_FILE) as pool:
        note = pool.isolation_note()
        assert note is not None and "as the grading user" in note and "Landlock" in note
        with pool.session(slot=0, handin_dir=handin, part="model") as student:
            assert student.run("model_structure", n_hidden=3)["parameters"][0] == ("hidden_linear.weight", (3, 1), True)
        with (
            pool.session(slot=0, handin_dir=ATTACKS / "exits_at_call", part="activations") as student,
            pytest.raises(StudentCrash, match=r"\(exit code 3\)"),
        ):
            student.run("call", function="activations.tanh", args=["os._exit"], kwargs={})


@pytest.mark.parametrize(
    ("probe", "arguments", "name"),
    [
        ("call", {"function": "activations.tanh"}, "tanh"),
        ("training_loop", {}, "training_loop"),
        ("model_forward", {}, "TemperatureNet"),
        ("model_structure", {}, "TemperatureNet"),
    ],
)
def test_messages_name_the_students_function(probe: str, arguments: dict[str, object], name: str) -> None:
    load_course_probes(PROBES_FILE)
    assert function_name(probe, arguments) == name
