"""The training graders (graders/test_training.py) judged on hand-ins: correct rewrites, mutants and cheats.

Each hand-in is a folder holding copies of solutions/*.py with training.py replaced, graded with the
instructors' debugging command (`pytest -c graders/pytest.ini --rootdir graders -p coursekit.grade.plugin
--handin ...`), run in-process by pytester so torch is imported once.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib.pyplot  # imported once here, so pytester's module snapshot keeps it between runs
import pytest
import torch
import yaml
from repo_paths import REPO

from coursekit.author.release import collect_student_files
from coursekit.config import load_course
from coursekit.grade.plugin import Verdict
from coursekit.sandbox.student import StudentError

pytest_plugins = ("pytester",)

GRADERS = REPO / "graders"
SOLUTIONS = REPO / "solutions"
COURSE = load_course(REPO / "course.yml")
TRAINING_POINTS = COURSE.assignment.part("training").points
REFERENCE = (SOLUTIONS / "training.py").read_text(encoding="utf-8")
MUTANTS: list[dict[str, str]] = yaml.safe_load((GRADERS / "mutants" / "training.yml").read_text(encoding="utf-8"))
assert matplotlib.pyplot  # keep the import


def warm_up_optimizers() -> None:
    """One SGD and one Adam step here, before pytester snapshots sys.modules: the first step imports torch
    modules lazily, and re-importing them in a later run would register torch's operator libraries twice."""
    model = torch.nn.Linear(1, 1)
    for optimizer_class in (torch.optim.SGD, torch.optim.Adam):
        optimizer = optimizer_class(model.parameters(), lr=0.1)
        model(torch.ones(2, 1)).sum().backward()
        optimizer.step()
        optimizer.zero_grad()


warm_up_optimizers()

HEADER = """
import copy

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
"""

SPLIT_SLICES = """
def split_indices(n_samples, val_fraction=0.2, generator=None):
    n_val = int(n_samples * val_fraction)
    perm = torch.randperm(n_samples, generator=generator)
    if n_val == 0:
        return perm, perm[:0]
    return perm[:-n_val], perm[-n_val:]
"""

SPLIT_TENSOR_SPLIT = """
def split_indices(n_samples, val_fraction=0.2, generator=None):
    shuffled = torch.randperm(n_samples, generator=generator)
    n_val = int(val_fraction * n_samples)
    train, val = shuffled.split([n_samples - n_val, n_val])
    return train, val
"""

LOOP_ZERO_GRAD_LAST = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    train_losses, val_losses = [], []
    for epoch in range(n_epochs):
        loss = loss_fn(model(t_u_train), t_c_train)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        with torch.no_grad():
            val_losses.append(float(loss_fn(model(t_u_val), t_c_val)))
        train_losses.append(loss.item())
        print(f"epoch {epoch}: {loss.item():.3f}")
    return {"train": train_losses, "val": val_losses}
"""

LOOP_VALIDATION_FIRST = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    for epoch in range(1, n_epochs + 1):
        model.eval()
        with torch.no_grad():
            val_prediction = model(t_u_val)
        model.train()
        optimizer.zero_grad(set_to_none=False)
        train_loss = loss_fn(model(t_u_train), t_c_train)
        train_loss.backward()
        optimizer.step()
        history["val"].append(loss_fn(val_prediction, t_c_val).item())
        history["train"].append(train_loss.item())
        if epoch % 1000 == 0:
            print("Epoch", epoch, history["train"][-1], history["val"][-1])
    return history
"""

PLOT_SCATTER = """
def plot_fit(model, t_u, t_c, scale=0.1):
    t_range = torch.arange(20.0, 90.0).unsqueeze(1)
    fig, ax = plt.subplots()
    ax.scatter(t_u.numpy(), t_c.numpy())
    ax.plot(t_range.numpy(), model(scale * t_range).detach().numpy(), "c-")
    ax.set_xlabel("Temperature (°F)")
    ax.set_ylabel("Temperature (°C)")
    return fig
"""

PLOT_PYPLOT = """
def plot_fit(model, t_u, t_c, scale=0.1):
    t_range = torch.arange(20.0, 90.0).unsqueeze(1)
    fig = plt.figure(dpi=100)
    plt.xlabel("Fahrenheit")
    plt.ylabel("Celsius")
    plt.plot(t_u.numpy(), t_c.numpy(), "o")
    plt.plot(t_range.numpy(), model(scale * t_range).detach().numpy(), "c-")
    return fig
"""

PLOT_FIGURE = """
def plot_fit(model, t_u, t_c, scale=0.1):
    fig = Figure()
    ax = fig.add_subplot()
    inputs = torch.arange(20.0, 90.0)
    with torch.no_grad():
        curve = model(scale * inputs.reshape(-1, 1)).squeeze(1)
    ax.plot(inputs, curve, linestyle="--")
    ax.plot(t_u.flatten(), t_c.flatten(), marker="x", linestyle="none")
    ax.set(xlabel="degrees FAHRENHEIT", ylabel="degrees celsius")
    return fig
"""

LOOP_ZERO_GRAD_FIRST_SET_TO_NONE = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    for _ in range(n_epochs):
        optimizer.zero_grad(set_to_none=True)
        prediction = model(t_u_train)
        loss = loss_fn(t_c_train, prediction)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.inference_mode():
            history["val"].append(loss_fn(model(t_u_val), t_c_val).item())
        model.train()
        history["train"].append(float(loss.detach()))
    return history
"""

PLOT_BOOK_FIGURE_6_9 = """
def plot_fit(model, t_u, t_c, scale=0.1):
    # The book's figure 6.9, with the scale argument in place of 0.1.
    t_range = torch.arange(20., 90.).unsqueeze(1)
    fig = plt.figure(dpi=600)
    plt.xlabel("Fahrenheit")
    plt.ylabel("Celsius")
    plt.plot(t_u.numpy(), t_c.numpy(), 'o')
    plt.plot(t_range.numpy(), model(scale * t_range).detach().numpy(), 'c-')
    plt.plot(t_u.numpy(), model(scale * t_u).detach().numpy(), 'kx')
    return fig
"""

PLOT_DEGREE_LABELS_HALF_STEPS = """
def plot_fit(model, t_u, t_c, scale=0.1):
    fig, ax = plt.subplots(figsize=(6, 4))
    grid = torch.arange(20.0, 90.0, 0.5).reshape(-1, 1)
    with torch.no_grad():
        ax.plot(grid.squeeze(1).numpy(), model(scale * grid).squeeze(1).numpy(), color="tab:cyan")
    ax.plot(t_u.squeeze(1).numpy(), t_c.squeeze(1).numpy(), "ko", label="measurements")
    ax.set_xlabel("Temperature (°Fahrenheit)")
    ax.set_ylabel("Temperature (°Celsius)")
    ax.legend()
    return fig
"""

# --- one-bug hand-ins the graders once gave full marks, or the wrong hint -------------------------------------

SPLIT_PRIVATE_GENERATOR = """
def split_indices(n_samples, val_fraction=0.2, generator=None):
    if generator is None:
        generator = torch.Generator()
    perm = torch.randperm(n_samples, generator=generator)
    n_val = int(val_fraction * n_samples)
    return perm[: n_samples - n_val], perm[n_samples - n_val :]
"""

SPLIT_FLOAT_EMPTY_VALIDATION = """
def split_indices(n_samples, val_fraction=0.2, generator=None):
    perm = torch.randperm(n_samples, generator=generator)
    n_val = int(val_fraction * n_samples)
    if n_val == 0:
        return perm, torch.tensor([])
    return perm[:-n_val], perm[-n_val:]
"""

LOOP_EARLY_STOPPING = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    best, patience = float("inf"), 0
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u_train), t_c_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            val = loss_fn(model(t_u_val), t_c_val).item()
        history["train"].append(loss.item())
        history["val"].append(val)
        if val < best - 1e-4:
            best, patience = val, 0
        else:
            patience += 1
            if patience == 5:
                break
    return history
"""

LOOP_MINIBATCHES = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    for _ in range(n_epochs):
        total = 0.0
        for start in range(0, len(t_u_train), 10):
            inputs, targets = t_u_train[start : start + 10], t_c_train[start : start + 10]
            loss = loss_fn(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(inputs)
        with torch.no_grad():
            history["val"].append(loss_fn(model(t_u_val), t_c_val).item())
        history["train"].append(total / len(t_u_train))
    return history
"""

LOOP_RESTORES_BEST_WEIGHTS = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    best, best_state = float("inf"), None
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u_train), t_c_train)
        with torch.no_grad():
            val = loss_fn(model(t_u_val), t_c_val).item()
        if val < best:
            best, best_state = val, copy.deepcopy(model.state_dict())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history["train"].append(loss.item())
        history["val"].append(val)
    model.load_state_dict(best_state)
    return history
"""

LOOP_TRAINS_ON_BOTH_SETS = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    t_u_all, t_c_all = torch.cat([t_u_train, t_u_val]), torch.cat([t_c_train, t_c_val])
    history = {"train": [], "val": []}
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u_all), t_c_all)
        with torch.no_grad():
            val = loss_fn(model(t_u_val), t_c_val)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history["train"].append(loss.item())
        history["val"].append(val.item())
    return history
"""

LOOP_LOSS_OVER_N = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u_train), t_c_train) / len(t_u_train)
        with torch.no_grad():
            val = loss_fn(model(t_u_val), t_c_val) / len(t_u_val)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history["train"].append(loss.item())
        history["val"].append(val.item())
    return history
"""

LOOP_CLIPS_GRADIENTS = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u_train), t_c_train)
        with torch.no_grad():
            val = loss_fn(model(t_u_val), t_c_val)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        history["train"].append(loss.item())
        history["val"].append(val.item())
    return history
"""

LOOP_LEAVES_A_LOSS_PLOT = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    history = {"train": [], "val": []}
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u_train), t_c_train)
        with torch.no_grad():
            val = loss_fn(model(t_u_val), t_c_val)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history["train"].append(loss.item())
        history["val"].append(val.item())
    plt.figure()
    plt.semilogy(history["train"], label="train")
    plt.semilogy(history["val"], label="val")
    return history
"""

PLOT_ON_THE_CURRENT_FIGURE = """
def plot_fit(model, t_u, t_c, scale=0.1):
    t_range = torch.arange(20.0, 90.0).unsqueeze(1)
    plt.xlabel("Fahrenheit")
    plt.ylabel("Celsius")
    plt.plot(t_u.numpy(), t_c.numpy(), "o")
    plt.plot(t_range.numpy(), model(scale * t_range).detach().numpy(), "c-")
    return plt.gcf()
"""

SPLIT_FAILS_WITHOUT_VALIDATION = """
def split_indices(n_samples, val_fraction=0.2, generator=None):
    n_val = int(val_fraction * n_samples)
    if n_val == 0:
        raise ValueError("nothing to validate on")
    perm = torch.randperm(n_samples, generator=generator)
    return perm[:-n_val], perm[-n_val:]
"""

LOOP_MADE_UP_HISTORY = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    return {"train": [100.0 / (e + 1) for e in range(n_epochs)], "val": [110.0 / (e + 1) for e in range(n_epochs)]}
"""

LOOP_SECOND_COPY = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    twin = copy.deepcopy(model)
    twin_optimizer = type(optimizer)(twin.parameters(), **optimizer.defaults)
    history = {"train": [], "val": []}
    for _ in range(n_epochs):
        loss = loss_fn(twin(t_u_train), t_c_train)
        with torch.no_grad():
            val = loss_fn(twin(t_u_val), t_c_val)
        twin_optimizer.zero_grad()
        loss.backward()
        twin_optimizer.step()
        history["train"].append(loss.item())
        history["val"].append(val.item())
    return history
"""

LOOP_TRAINS_BUT_INVENTS_HISTORY = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    for _ in range(n_epochs):
        loss = loss_fn(model(t_u_train), t_c_train)
        with torch.no_grad():
            loss_fn(model(t_u_val), t_c_val)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"train": [1.0 / (e + 1) for e in range(n_epochs)], "val": [2.0 / (e + 1) for e in range(n_epochs)]}
"""

LOOP_RAISES = """
def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    raise ValueError("not finished")
"""


def reference_function(name: str) -> str:
    """The reference's definition of `name` (its source text, fences and all), for mixing with rewrites."""
    start = REFERENCE.index(f"\ndef {name}(")
    end = REFERENCE.find("\ndef ", start + 1)
    return REFERENCE[start : end if end != -1 else len(REFERENCE)]


def training_source(*, split: str | None = None, loop: str | None = None, plot: str | None = None) -> str:
    parts = [
        split or reference_function("split_indices"),
        loop or reference_function("training_loop"),
        plot or reference_function("plot_fit"),
    ]
    return HEADER + "\nfrom torch import Tensor, nn\n" + "\n\n".join(textwrap.dedent(p) for p in parts)


def grade(pytester: pytest.Pytester, tmp_path: Path, training: str) -> list[Verdict]:
    """Grade a hand-in (the reference with this training.py) with the training graders; its verdicts."""
    handin = tmp_path / "handin"
    handin.mkdir(exist_ok=True)
    for module in SOLUTIONS.glob("*.py"):
        shutil.copy(module, handin / module.name)
    (handin / "training.py").write_text(training, encoding="utf-8")
    result = pytester.runpytest_inprocess(
        *("-c", str(GRADERS / "pytest.ini"), "--rootdir", str(GRADERS), "-p", "coursekit.grade.plugin"),
        *("--course", str(REPO / "course.yml"), "--handin", str(handin), "-q", "-p", "no:randomly"),
        str(GRADERS / "test_training.py"),
    )
    config = result.reprec.getcall("pytest_unconfigure").config  # type: ignore[attr-defined]
    verdicts: list[Verdict] = config.pluginmanager.get_plugin("coursekit-grading").verdicts
    assert verdicts, result.stdout.str()
    assert not [v for v in verdicts if v.grader_error], [v for v in verdicts if v.grader_error]
    return verdicts


def score(verdicts: list[Verdict], exercise: str | None = None) -> float:
    return sum(v.score for v in verdicts if exercise is None or v.exercise == exercise)


def worth(verdicts: list[Verdict], exercise: str) -> float:
    return sum(v.max_score for v in verdicts if v.exercise == exercise)


def failures(verdicts: list[Verdict]) -> str:
    return "\n".join(f"{v.name}: {v.message}" for v in verdicts if not v.passed)


# --- correct hand-ins get every point -----------------------------------------------------------------------


def test_the_graders_add_up_to_the_training_points(pytester: pytest.Pytester, tmp_path: Path) -> None:
    verdicts = grade(pytester, tmp_path, REFERENCE)
    assert sum(v.max_score for v in verdicts) == TRAINING_POINTS
    assert {v.part for v in verdicts} == {"training"}
    assert {v.exercise for v in verdicts} == {"3.1", "3.2", "3.3"}
    assert score(verdicts) == TRAINING_POINTS, failures(verdicts)


# Every correct training.py style these tests use: the graders give each full marks, and the public tests pass it.
CORRECT_STYLES: dict[str, dict[str, str | None]] = {
    "reference": {},
    "slices-zero-grad-last-scatter": {"split": SPLIT_SLICES, "loop": LOOP_ZERO_GRAD_LAST, "plot": PLOT_SCATTER},
    "tensor-split-validation-first-pyplot": {
        "split": SPLIT_TENSOR_SPLIT,
        "loop": LOOP_VALIDATION_FIRST,
        "plot": PLOT_PYPLOT,
    },
    "figure-object": {"plot": PLOT_FIGURE},
    "set-to-none-inference-mode-book-figure": {"loop": LOOP_ZERO_GRAD_FIRST_SET_TO_NONE, "plot": PLOT_BOOK_FIGURE_6_9},
    "degree-labels-half-steps": {"plot": PLOT_DEGREE_LABELS_HALF_STEPS},
    "loss-plot-left-open-then-current-figure": {"loop": LOOP_LEAVES_A_LOSS_PLOT, "plot": PLOT_ON_THE_CURRENT_FIGURE},
}


@pytest.mark.parametrize("style", [s for s in CORRECT_STYLES if s != "reference"])
def test_correct_rewrites_get_full_marks(pytester: pytest.Pytester, tmp_path: Path, style: str) -> None:
    verdicts = grade(pytester, tmp_path, training_source(**CORRECT_STYLES[style]))
    assert score(verdicts) == TRAINING_POINTS, failures(verdicts)


def public_suite_outcomes(pytester: pytest.Pytester, tmp_path: Path, training: str) -> pytest.RunResult:
    """tests/test_training.py run as a student runs it, in the released student folder with this training.py."""
    folder = tmp_path / "student"
    for name, content in collect_student_files(course_dir=REPO, course=COURSE).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    (folder / "training.py").write_text(training, encoding="utf-8")
    writes_bytecode = sys.dont_write_bytecode
    try:
        return pytester.runpytest_inprocess(
            "--rootdir",
            str(folder),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            str(folder / "tests" / "test_training.py"),
        )
    finally:
        sys.dont_write_bytecode = writes_bytecode  # the student's conftest switches it off


@pytest.mark.parametrize("style", list(CORRECT_STYLES))
def test_the_public_tests_accept_every_correct_style(pytester: pytest.Pytester, tmp_path: Path, style: str) -> None:
    """The public tests and the graders hold one rule: what the graders give full marks, the public tests pass."""
    source = REFERENCE if style == "reference" else training_source(**CORRECT_STYLES[style])
    result = public_suite_outcomes(pytester, tmp_path, source)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 7 and not outcomes.get("failed") and not outcomes.get("errors"), (
        result.stdout.str()
    )


# --- mistakes lose points, with the hint that names them ----------------------------------------------------

# mutant name -> (the exercise that must lose points, a phrase the student must read)
EXPECTED_HINTS: dict[str, tuple[str, str]] = {
    "unshuffled-split": ("3.1", "not shuffled"),
    "split-takes-first-n-val": ("3.1", "LAST n_val"),
    "split-ignores-generator": ("3.1", "pass the generator"),
    "split-rounds-n-val": ("3.1", "int(val_fraction * n_samples)"),
    "split-negative-slice": ("3.1", "perm[-0:]"),
    "missing-zero-grad": ("3.2", "optimizer.zero_grad()"),
    "zero-grad-after-backward": ("3.2", "not between backward and step"),
    "missing-step": ("3.2", "the weights never moved"),
    "step-on-validation-loss": ("3.2", "step on the validation loss"),
    "step-on-train-plus-validation": ("3.2", "validation loss took part in the gradient"),
    "validation-with-grad": ("3.2", "torch.no_grad()"),
    "train-on-validation-data": ("3.2", "train on t_u_val"),
    "two-steps-per-epoch": ("3.2", "once per epoch"),
    "off-by-one-epochs": ("3.2", "one epoch too few"),
    "history-of-tensors": ("3.2", "use loss.item()"),
    "history-without-validation": ("3.2", "history['val'] holds"),
    "history-of-last-loss": ("3.2", "history['val'] differs"),
    "plot-without-labels": ("3.3", "set_xlabel('Fahrenheit')"),
    "plot-labels-swapped": ("3.3", "swapped"),
    "plot-curve-unscaled": ("3.3", "feed the model scale * t_range"),
    "plot-scale-hard-coded": ("3.3", "ignores the scale argument"),
    "plot-measurements-as-line": ("3.3", "joined by a line"),
    "plot-measurements-scaled": ("3.3", "against the scaled inputs"),
    "plot-curve-too-short": ("3.3", "cover the inputs 20..89"),
    "split-private-generator": ("3.1", "a fresh torch.Generator()"),
    "split-float-empty-validation": ("3.1", "int64 of shape [0]"),
    "early-stopping": ("3.2", "did the loop stop early"),
    "minibatches-of-10": ("3.2", "minibatch of 10 rows"),
    "restores-best-weights": ("3.2", "restore the best weights"),
    "train-on-both-sets": ("3.2", "training and validation data together"),
}


def test_every_mutant_has_an_expected_hint() -> None:
    assert sorted(m["name"] for m in MUTANTS) == sorted(EXPECTED_HINTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m["name"] for m in MUTANTS])
def test_a_mutant_loses_points_with_its_hint(pytester: pytest.Pytester, tmp_path: Path, mutant: dict[str, str]) -> None:
    assert mutant["part"] == "training" and mutant["file"] == "training.py"
    assert REFERENCE.count(mutant["replace"]) == 1
    verdicts = grade(pytester, tmp_path, REFERENCE.replace(mutant["replace"], mutant["with"]))
    exercise, hint = EXPECTED_HINTS[mutant["name"]]
    lost = [v for v in verdicts if not v.passed]
    assert lost, f"{mutant['name']} kept every point"
    assert any(v.exercise == exercise and hint in v.message for v in lost), failures(verdicts)
    assert {v.exercise for v in lost} == {exercise}, failures(verdicts)
    # A hint is earned by a replay of its mistake: none of these loops forgets zero_grad.
    if mutant["name"] != "missing-zero-grad":
        assert not any("optimizer.zero_grad()?" in v.message for v in lost), failures(verdicts)


# One-bug hand-ins written apart from the mutants: (training.py parts, the exercise that loses, a phrase of its hint)
ONE_BUG_HANDINS: dict[str, tuple[dict[str, str], str, str]] = {
    "private-generator": ({"split": SPLIT_PRIVATE_GENERATOR}, "3.1", "a fresh torch.Generator()"),
    "float-empty-validation": ({"split": SPLIT_FLOAT_EMPTY_VALIDATION}, "3.1", "torch.tensor([]) is float32"),
    "early-stopping": ({"loop": LOOP_EARLY_STOPPING}, "3.2", "did the loop stop early"),
    "minibatches": ({"loop": LOOP_MINIBATCHES}, "3.2", "minibatch of 10 rows"),
    "restores-best-weights": ({"loop": LOOP_RESTORES_BEST_WEIGHTS}, "3.2", "restore the best weights"),
    "trains-on-both-sets": ({"loop": LOOP_TRAINS_ON_BOTH_SETS}, "3.2", "training and validation data together"),
    "loss-over-n": ({"loop": LOOP_LOSS_OVER_N}, "3.2", "the weights drifted from the reference loop's"),
    "clips-gradients": ({"loop": LOOP_CLIPS_GRADIENTS}, "3.2", "the weights drifted from the reference loop's"),
}


@pytest.mark.parametrize("handin", list(ONE_BUG_HANDINS))
def test_a_one_bug_handin_loses_points_in_its_exercise_with_an_earned_hint(
    pytester: pytest.Pytester, tmp_path: Path, handin: str
) -> None:
    parts, exercise, hint = ONE_BUG_HANDINS[handin]
    verdicts = grade(pytester, tmp_path, training_source(**parts))
    lost = [v for v in verdicts if not v.passed]
    assert {v.exercise for v in lost} == {exercise}, failures(verdicts)
    assert any(hint in v.message for v in lost), failures(verdicts)
    assert not any("optimizer.zero_grad()?" in v.message for v in lost), failures(verdicts)
    assert not any("no forward call" in v.message for v in lost), failures(verdicts)


def test_ignoring_the_generator_costs_the_randperm_check_only(pytester: pytest.Pytester, tmp_path: Path) -> None:
    ignores = next(m for m in MUTANTS if m["name"] == "split-ignores-generator")
    verdicts = grade(pytester, tmp_path, REFERENCE.replace(ignores["replace"], ignores["with"]))
    lost = [v.name for v in verdicts if not v.passed]
    assert lost == [
        "3.1 split_indices takes the last n_val entries of torch.randperm(n_samples, generator=generator) for validation"
    ], failures(verdicts)


def test_a_crash_says_what_the_call_gave(pytester: pytest.Pytester, tmp_path: Path) -> None:
    crashes_on_other_scales = PLOT_SCATTER.replace(
        "    t_range =", "    assert scale == 0.1, 'only 0.1'\n    t_range ="
    )
    verdicts = grade(pytester, tmp_path, training_source(plot=crashes_on_other_scales))
    lost = [v for v in verdicts if not v.passed]
    assert [v.exercise for v in lost] == ["3.3"], failures(verdicts)
    assert lost[0].message.startswith("plot_fit(model, t_u, t_c, scale=0.05) with t_u and t_c of shape [9, 1] failed: ")
    assert "AssertionError: only 0.1" in lost[0].message


def test_a_split_failing_one_case_loses_that_check_only(pytester: pytest.Pytester, tmp_path: Path) -> None:
    verdicts = grade(pytester, tmp_path, training_source(split=SPLIT_FAILS_WITHOUT_VALIDATION))
    lost = [v for v in verdicts if not v.passed]
    assert [v.name for v in lost] == [
        "3.1 split_indices keeps every sample for training when int(val_fraction * n_samples) == 0"
    ], failures(verdicts)
    assert "ValueError: nothing to validate on" in lost[0].message


# --- cheats earn nothing for the loop -----------------------------------------------------------------------


def test_a_made_up_history_earns_no_loop_points(pytester: pytest.Pytester, tmp_path: Path) -> None:
    verdicts = grade(pytester, tmp_path, training_source(loop=LOOP_MADE_UP_HISTORY))
    assert score(verdicts, "3.2") == 0, failures(verdicts)
    assert score(verdicts) == TRAINING_POINTS - worth(verdicts, "3.2"), failures(verdicts)


def test_training_a_second_copy_earns_no_loop_points(pytester: pytest.Pytester, tmp_path: Path) -> None:
    verdicts = grade(pytester, tmp_path, training_source(loop=LOOP_SECOND_COPY))
    assert score(verdicts, "3.2") == 0, failures(verdicts)


def test_an_invented_history_costs_the_history_check_only(pytester: pytest.Pytester, tmp_path: Path) -> None:
    verdicts = grade(pytester, tmp_path, training_source(loop=LOOP_TRAINS_BUT_INVENTS_HISTORY))
    lost = [v for v in verdicts if not v.passed]
    assert [v.name.split(" ", 1)[0] for v in lost] == ["3.2"], failures(verdicts)
    assert "history['train'] differs" in lost[0].message


def test_a_crashing_loop_costs_the_loop_only(pytester: pytest.Pytester, tmp_path: Path) -> None:
    verdicts = grade(pytester, tmp_path, training_source(loop=LOOP_RAISES))
    assert score(verdicts, "3.2") == 0
    assert score(verdicts) == TRAINING_POINTS - worth(verdicts, "3.2")
    assert all("ValueError: not finished" in v.message for v in verdicts if not v.passed), failures(verdicts)


# --- the probe calls are made once per hand-in --------------------------------------------------------------


def load_graders(config: pytest.Config) -> Any:
    """graders/test_training.py as a module, its markers registered as graders/pytest.ini registers them."""
    for marker in ("points(value, exercise): grader points", "public: mirrors a public test"):
        config.addinivalue_line("markers", marker)
    spec = importlib.util.spec_from_file_location("training_graders_under_test", GRADERS / "test_training.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class CountingStudent:
    def __init__(self, failure: str | None = None) -> None:
        self.calls: list[str] = []
        self.failure = failure

    def run(self, probe: str, /, **arguments: Any) -> dict[str, Any]:
        self.calls.append(probe)
        if self.failure is not None:
            raise StudentError(self.failure)
        return {"probe": probe, **arguments}


def test_probe_runs_are_cached_per_student_object(pytestconfig: pytest.Config) -> None:
    graders = load_graders(pytestconfig)
    first, second, failing = CountingStudent(), CountingStudent(), CountingStudent("boom")
    for _ in range(3):
        assert graders.run_once(first, "a", "call", x=1) == {"probe": "call", "x": 1}
        graders.run_once(second, "a", "call", x=2)
        with pytest.raises(StudentError, match="boom"):
            graders.run_once(failing, "a", "call")
    assert first.calls == second.calls == failing.calls == ["call"]
    graders.run_once(first, "b", "call")
    assert first.calls == ["call", "call"]


def test_the_replay_tells_the_usual_mistakes_apart(pytestconfig: pytest.Config) -> None:
    graders = load_graders(pytestconfig)
    problem = graders.trajectory_problem(graders.input_seed(COURSE.seed, "trajectory"))
    reference = graders.replay(problem)
    tolerance = COURSE.thresholds["training_trajectory_tolerance"]
    assert len(reference.train) == len(reference.val_before_step) == problem.n_epochs
    assert len(reference.states) == problem.n_epochs + 1
    assert reference.val_before_step[1:] == reference.val_after_step[:-1]
    for variant, hint in graders.MISTAKES.items():
        state = graders.replay(problem, variant).state
        assert graders.state_distance(state, reference.state) > 100 * tolerance, variant
        assert graders.trajectory_mistake(problem, {"state": state, "forward_calls": []}, tolerance) == hint
    short = graders.replay(problem, graders.EPOCH_SHORT).state
    assert "one epoch too few" in graders.trajectory_mistake(problem, {"state": short, "forward_calls": []}, tolerance)
    for epoch in (5, 18):
        hint = graders.trajectory_mistake(problem, {"state": reference.states[epoch], "forward_calls": []}, tolerance)
        assert f"after epoch {epoch} of {problem.n_epochs}" in hint and "one epoch too few" not in hint
    # Weights no replayed loop reaches: the hint says they drifted, and by how much, and names no mistake.
    drifted = {name: tensor * 1.01 for name, tensor in reference.state.items()}
    hint = graders.trajectory_mistake(problem, {"state": drifted, "forward_calls": []}, tolerance)
    distance = graders.state_distance(drifted, reference.state)
    assert hint.startswith("the weights drifted from the reference loop's") and f"is {distance:.2g}," in hint


def test_the_inputs_come_from_the_course_seed(pytestconfig: pytest.Config) -> None:
    graders = load_graders(pytestconfig)
    this_term, next_term = COURSE.model_copy(update={"seed": 2026}), COURSE.model_copy(update={"seed": 2027})
    assert graders.split_cases(this_term) == graders.split_cases(COURSE.model_copy(update={"seed": 2026}))
    assert [c[2] for c in graders.split_cases(this_term)] != [c[2] for c in graders.split_cases(next_term)]
    for name in ("trajectory", "convergence", "plot"):
        assert graders.input_seed(2026, name) != graders.input_seed(2027, name)
    first = graders.trajectory_problem(graders.input_seed(2026, "trajectory"))
    second = graders.trajectory_problem(graders.input_seed(2027, "trajectory"))
    assert not torch.equal(first.t_u_train, second.t_u_train)


def test_plot_fit_starts_from_a_clean_pyplot_state(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    """A figure training_loop left open is closed before plot_fit runs, so a plot_fit drawing on pyplot's current
    figure is judged on what it drew itself, never on top of a loss plot."""
    from coursekit.sandbox import probes

    probes.load_course_probes(GRADERS / "probes.py")
    handin = tmp_path / "handin"
    handin.mkdir()
    (handin / "training.py").write_text(
        training_source(loop=LOOP_LEAVES_A_LOSS_PLOT, plot=PLOT_ON_THE_CURRENT_FIGURE), encoding="utf-8"
    )
    graders = load_graders(pytestconfig)
    student = probes.Handin(handin)
    problem = graders.trajectory_problem(1)
    probes.PROBES["training_loop"](student, **problem.arguments())
    assert matplotlib.pyplot.get_fignums(), "the loop under test should leave its loss plot open"
    state = graders.initial_state(graders.PLOT_LAYERS, torch.Generator().manual_seed(1))
    t_u, t_c = graders.thermometer_data(9, torch.Generator().manual_seed(2))
    answer = probes.PROBES["plot_fit"](
        student, layers=graders.PLOT_LAYERS, state=state, t_u=t_u, t_c=t_c, scale=None, png=False
    )
    (axes,) = answer["axes"]
    assert [len(line["x"]) for line in axes["lines"]] == [9, 70]
    sys.modules.pop("training", None)


@pytest.mark.parametrize("kind", ["trajectory", "convergence"])
def test_the_replays_written_out_optimizers_give_torch_optims_weights_bitwise(
    pytestconfig: pytest.Config, kind: str
) -> None:
    """The grader replays training with SGD and Adam written out (torch's own import torch._dynamo); every
    epoch's weights must be torch.optim's, bit for bit, or a correct loop would be judged against other weights."""
    graders = load_graders(pytestconfig)
    seed = graders.input_seed(COURSE.seed, kind)
    problem = graders.trajectory_problem(seed) if kind == "trajectory" else graders.convergence_problem(seed)[0]
    model = graders.build_model(problem.layers)
    model.load_state_dict(problem.state)
    optimizer = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[problem.optimizer](model.parameters(), lr=problem.lr)
    replayed = graders.replay(problem).states
    for epoch in range(problem.n_epochs):
        loss = torch.nn.functional.mse_loss(model(problem.t_u_train), problem.t_c_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = model.state_dict()
        assert all(torch.equal(state[k], replayed[epoch + 1][k]) for k in state), (problem.optimizer, epoch)
