"""Hidden graders for the training part: split_indices (3.1), training_loop (3.2), plot_fit (3.3).

Every verdict is computed here from plain data a probe returned, against this file's own computation:
the grader draws the weights and data (from course.yml's seed), replays the reference loop itself, evaluates
the returned weights on a held-out set the student's code never sees, and recomputes the plotted curve. The
model is a generic nn.Sequential described by `layers`, so a broken model.py costs model points only.
What the student's process reports about its own run (the forward calls and optimizer steps it saw, the
history's length, the figure's labels and points) only denies points: each such point also needs the trained
weights, or the plotted curve, to be what the grader computes. A hint names a mistake only when the grader's
replay of that mistake ends where the student's loop did.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from coursekit.config import Course, derived_seed
from coursekit.sandbox.probes import sequential_from_layers
from coursekit.sandbox.student import Student, StudentError

Layers = list[tuple[str, list[int]]]

# --- the grader's own model and data ----------------------------------------------------------------------


def input_seed(course_seed: int, name: str) -> int:
    """The seed of one of this part's inputs, from course.yml's seed and the input's name: a new seed refreshes
    every input, and every hand-in of a class (and each of its tests) meets the same ones."""
    return derived_seed(course_seed, f"training:{name}")


def build_model(layers: Layers) -> nn.Sequential:
    """The same stack the probe builds from `layers`, so state_dict keys ("0.weight", ...) match."""
    return sequential_from_layers(layers)


def initial_state(layers: Layers, generator: torch.Generator) -> dict[str, Tensor]:
    """Weights drawn from the grader's generator (uniform in +-1/sqrt(fan_in), like nn.Linear's default)."""
    state: dict[str, Tensor] = {}
    for name, tensor in build_model(layers).state_dict().items():
        fan_in = tensor.shape[1] if tensor.dim() == 2 else tensor.shape[0]
        bound = 1.0 / math.sqrt(fan_in)
        state[name] = (torch.rand(tensor.shape, generator=generator) * 2 - 1) * bound
    return state


def thermometer_data(n: int, generator: torch.Generator, noise: float = 1.0) -> tuple[Tensor, Tensor]:
    """(t_u, t_c) of shape [n, 1]: readings in 20..90 and Celsius on the line t_c = (t_u - 32) / 1.8 plus noise."""
    t_u = 20.0 + 70.0 * torch.rand(n, 1, generator=generator)
    t_c = (t_u - 32.0) / 1.8 + noise * torch.randn(n, 1, generator=generator)
    return t_u, t_c


@dataclasses.dataclass(frozen=True)
class TrainingProblem:
    """Everything one training_loop call needs: the model, its initial weights, the optimizer and the data.

    `name` (which run, which seed) keys the grader's replays of it; it is not an argument of the call."""

    name: str
    layers: Layers
    state: dict[str, Tensor]
    optimizer: str
    lr: float
    n_epochs: int
    t_u_train: Tensor
    t_u_val: Tensor
    t_c_train: Tensor
    t_c_val: Tensor

    def arguments(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self) if field.name != "name"}

    def describe(self) -> str:
        optimizer = "SGD" if self.optimizer == "sgd" else "Adam"
        return (
            f"training_loop(n_epochs={self.n_epochs}, {optimizer} with lr={self.lr}, nn.MSELoss(), "
            f"{len(self.t_u_train)} training and {len(self.t_u_val)} validation rows of shape [n, 1])"
        )


def trajectory_problem(seed: int) -> TrainingProblem:
    """A short SGD run on little data: n_train != n_val, so forward calls tell training from validation."""
    generator = torch.Generator().manual_seed(seed)
    layers: Layers = [("linear", [1, 4]), ("tanh", []), ("linear", [4, 1])]
    state = initial_state(layers, generator)
    t_u, t_c = thermometer_data(11, generator)
    return TrainingProblem(
        f"trajectory:{seed}", layers, state, "sgd", 0.01, 20, 0.1 * t_u[:7], 0.1 * t_u[7:], t_c[:7], t_c[7:]
    )


def convergence_problem(seed: int) -> tuple[TrainingProblem, Tensor, Tensor]:
    """A longer Adam run on 30 training and 10 validation points, and 30 held-out points the student never sees."""
    generator = torch.Generator().manual_seed(seed)
    layers: Layers = [("linear", [1, 8]), ("tanh", []), ("linear", [8, 1])]
    state = initial_state(layers, generator)
    t_u, t_c = thermometer_data(70, generator)
    problem = TrainingProblem(
        f"convergence:{seed}",
        layers,
        state,
        "adam",
        0.1,
        CONVERGENCE_EPOCHS,
        0.1 * t_u[:30],
        0.1 * t_u[30:40],
        t_c[:30],
        t_c[30:40],
    )
    return problem, 0.1 * t_u[40:], t_c[40:]


CONVERGENCE_EPOCHS = 200

# --- the grader's replay of the reference loop, and of the usual mistakes -----------------------------------

# Variants a failed trajectory is compared against, with the hint each one earns. One epoch too few is told by
# the epoch the weights stopped at (ended_at_epoch), with stopping early and restoring the best weights.
MISTAKES: dict[str, str] = {
    "no-zero-grad": "did you forget optimizer.zero_grad()? gradients accumulate epoch after epoch",
    "no-step": (
        "the weights never moved: call optimizer.step() after loss.backward(), "
        "and optimizer.zero_grad() before backward (not between backward and step)"
    ),
    # Stepping on the validation loss and training on the validation data take the very same steps.
    "step-on-val": (
        "the weights followed the validation data: did you step on the validation loss, or train on "
        "t_u_val? call backward() on the loss of model(t_u_train) against t_c_train"
    ),
    "step-on-both": "the validation loss took part in the gradient: compute it under torch.no_grad()",
    "train-on-both-sets": (
        "the weights followed a loop trained on the training and validation data together: train on t_u_train "
        "and t_c_train alone, and keep t_u_val for the validation loss"
    ),
    "two-steps": "the weights moved twice per epoch: call optimizer.step() once per epoch",
    "epoch-long": "one epoch too many: loop exactly n_epochs times (range(n_epochs))",
}
# Mistakes the calibration measures beside MISTAKES (bench/calibrate_training.py).
EPOCH_SHORT = "epoch-short"


def minibatch_hint(rows: int) -> str:
    return (
        f"the weights followed a loop that steps once per minibatch of {rows} rows: training_loop takes one "
        "full-batch step per epoch, on all of t_u_train at once"
    )


@dataclasses.dataclass(frozen=True)
class Replay:
    # states[k]: the weights after k epochs (states[0] the initial ones).
    states: list[dict[str, Tensor]]
    train: list[float]
    # The validation loss measured on the weights of each epoch before its step, and after it.
    val_before_step: list[float]
    val_after_step: list[float]

    @property
    def state(self) -> dict[str, Tensor]:
        return self.states[-1]


class WrittenOutOptimizer:
    """torch.optim.SGD(params, lr) or torch.optim.Adam(params, lr), written out with the very operations of their
    CPU implementations (tests/course proves the weights bitwise equal): torch's own optimizers import
    torch._dynamo at their first step, about a second of every grading process's start."""

    def __init__(self, name: str, parameters: Any, lr: float) -> None:
        self.adam = name == "adam"
        self.params: list[nn.Parameter] = list(parameters)
        self.lr = lr
        self.steps = 0
        self.exp_avgs = [torch.zeros_like(param) for param in self.params]
        self.exp_avg_sqs = [torch.zeros_like(param) for param in self.params]

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if not self.adam:
            for param in self.params:
                if param.grad is not None:
                    param.add_(param.grad, alpha=-self.lr)
            return
        # Adam's defaults: betas (0.9, 0.999), eps 1e-8; one step count for all parameters, which torch keeps
        # per parameter but which here all get a gradient at every step.
        self.steps += 1
        bias_correction1 = 1 - 0.9**self.steps
        bias_correction2 = 1 - 0.999**self.steps
        for param, exp_avg, exp_avg_sq in zip(self.params, self.exp_avgs, self.exp_avg_sqs, strict=True):
            if param.grad is None:
                continue
            exp_avg.lerp_(param.grad, 1 - 0.9)
            exp_avg_sq.mul_(0.999).addcmul_(param.grad, param.grad, value=1 - 0.999)
            denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(1e-8)
            param.addcdiv_(exp_avg, denom, value=-(self.lr / bias_correction1))


def make_optimizer(name: str, parameters: Any, lr: float) -> WrittenOutOptimizer:
    return WrittenOutOptimizer(name, parameters, lr)


def _snapshot(model: nn.Module) -> dict[str, Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


_REPLAYS: dict[tuple[str, str], Replay] = {}


def replay(problem: TrainingProblem, variant: str = "reference") -> Replay:
    """The reference loop (or one of MISTAKES, EPOCH_SHORT, "minibatch-<rows>") run here, in the grader's process,
    from the same weights; computed once per problem and variant."""
    key = (problem.name, variant)
    if key not in _REPLAYS:
        _REPLAYS[key] = _run_replay(problem, variant)
    return _REPLAYS[key]


def _run_replay(problem: TrainingProblem, variant: str) -> Replay:
    model = build_model(problem.layers)
    model.load_state_dict(problem.state)
    optimizer = make_optimizer(problem.optimizer, model.parameters(), problem.lr)
    loss_fn = nn.MSELoss()
    n_epochs = problem.n_epochs + {EPOCH_SHORT: -1, "epoch-long": 1}.get(variant, 0)
    batch = int(variant.removeprefix("minibatch-")) if variant.startswith("minibatch-") else None
    t_u_fit, t_c_fit = problem.t_u_train, problem.t_c_train
    if variant == "train-on-both-sets":
        t_u_fit, t_c_fit = torch.cat([t_u_fit, problem.t_u_val]), torch.cat([t_c_fit, problem.t_c_val])
    states = [_snapshot(model)]
    train: list[float] = []
    val: list[float] = []
    for _ in range(n_epochs):
        with torch.no_grad():
            val.append(loss_fn(model(problem.t_u_val), problem.t_c_val).item())
        if batch is not None:
            for start in range(0, len(t_u_fit), batch):
                loss_batch = loss_fn(model(t_u_fit[start : start + batch]), t_c_fit[start : start + batch])
                optimizer.zero_grad()
                loss_batch.backward()
                optimizer.step()
                train.append(loss_batch.item())
            states.append(_snapshot(model))
            continue
        loss_train = loss_fn(model(t_u_fit), t_c_fit)
        with torch.set_grad_enabled(variant in ("step-on-val", "step-on-both")):
            loss_val = loss_fn(model(problem.t_u_val), problem.t_c_val)
        if variant != "no-zero-grad":
            optimizer.zero_grad()
        if variant == "step-on-val":
            loss_val.backward()
        elif variant == "step-on-both":
            (loss_train + loss_val).backward()
        else:
            loss_train.backward()
        if variant != "no-step":
            optimizer.step()
        if variant == "two-steps":
            optimizer.step()
        train.append(loss_train.item())
        states.append(_snapshot(model))
    with torch.no_grad():
        val.append(loss_fn(model(problem.t_u_val), problem.t_c_val).item())
    return Replay(states, train, val[:-1], val[1:])


def state_distance(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    """The largest elementwise difference between two state dicts, relative to 1 + |b| (inf if they differ in shape)."""
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        return math.inf
    return max(float(((a[k].double() - b[k].double()).abs() / (1 + b[k].double().abs())).max()) for k in a)


def same_losses(returned: list[Any], expected: list[float]) -> bool:
    return len(returned) == len(expected) and all(
        type(r) is float and math.isclose(r, e, rel_tol=1e-4, abs_tol=1e-6)
        for r, e in zip(returned, expected, strict=True)
    )


def minibatch_rows(problem: TrainingProblem, run: dict[str, Any]) -> int | None:
    """The rows of the first forward call with gradients on that saw fewer rows than t_u_train, if any.

    Reported by the student's process: it only chooses which replay to compare the weights with."""
    smaller = [rows for rows, grad in run["forward_calls"] if grad and 0 < rows < len(problem.t_u_train)]
    return smaller[0] if smaller else None


def matched_variant(problem: TrainingProblem, run: dict[str, Any], tolerance: float) -> str | None:
    """The loop (the reference, a MISTAKES variant or minibatches) whose replay ends where the student's did."""
    candidates = ["reference", *MISTAKES]
    rows = minibatch_rows(problem, run)
    if rows is not None:
        candidates.append(f"minibatch-{rows}")
    for variant in candidates:
        if state_distance(run["state"], replay(problem, variant).state) <= tolerance:
            return variant
    return None


def hint_of(variant: str) -> str:
    return (
        minibatch_hint(int(variant.removeprefix("minibatch-")))
        if variant.startswith("minibatch-")
        else MISTAKES[variant]
    )


def ended_at_epoch(expected: Replay, state: dict[str, Tensor], tolerance: float) -> int | None:
    """The epoch k < n_epochs after which the replay had the weights `state`, if any (0: the initial weights)."""
    for epoch, reached in enumerate(expected.states[:-1]):
        if state_distance(state, reached) <= tolerance:
            return epoch
    return None


def ended_at_epoch_hint(epoch: int, n_epochs: int) -> str:
    if epoch == 0:
        return MISTAKES["no-step"]
    short = "one epoch too few, or " if epoch == n_epochs - 1 else ""
    return (
        f"your model ends with the weights the reference loop has after epoch {epoch} of {n_epochs}: {short}did the "
        "loop stop early, or restore the best weights? train for exactly n_epochs epochs (range(n_epochs)) and keep "
        "the weights of the last one"
    )


def drift_hint(distance: float, n_epochs: int) -> str:
    return (
        f"the weights drifted from the reference loop's: after {n_epochs} epochs the largest relative difference is "
        f"{distance:.2g}, and none of the usual mistakes the grader replayed (no zero_grad, no step, two steps per "
        "epoch, stepping on the validation loss, training on the validation data, stopping early or restoring the "
        "best weights, minibatches) ends there: compare each epoch of your loop with the docstring"
    )


def trajectory_mistake(problem: TrainingProblem, run: dict[str, Any], tolerance: float) -> str:
    """The hint for weights that left the reference loop's path: a mistake only when its replay ends there."""
    state = run["state"]
    variant = matched_variant(problem, run, tolerance)
    if variant is not None and variant != "reference":
        return hint_of(variant)
    reference = replay(problem)
    epoch = ended_at_epoch(reference, state, tolerance)
    if epoch is not None:
        return ended_at_epoch_hint(epoch, problem.n_epochs)
    distance = state_distance(state, reference.state)
    if math.isinf(distance):
        return "the trained model's weights came back with a different layout"
    return drift_hint(distance, problem.n_epochs)


# --- probe calls, once per hand-in ---------------------------------------------------------------------------

# Keyed by the student object, so each hand-in gets its own runs and nothing outlives its handle.
_RUNS: weakref.WeakKeyDictionary[Any, dict[str, dict[str, Any] | StudentError]] = weakref.WeakKeyDictionary()


def run_once(student: Student, key: str, probe: str, *, called: str = "", **arguments: Any) -> dict[str, Any]:
    """student.run(probe, **arguments), answered once per student object; a StudentError is replayed too.

    `called` says what the call gave the student's code; a failure's message starts with it."""
    try:
        runs = _RUNS.setdefault(student, {})
    except TypeError:  # a handle that cannot be weakly referenced is simply not cached
        runs = {}
    if key not in runs:
        try:
            runs[key] = student.run(probe, **arguments)
        except StudentError as error:
            runs[key] = type(error)(f"{called} failed: {error.message}") if called else error
    outcome = runs[key]
    if isinstance(outcome, StudentError):
        raise outcome  # the same error (a timeout stays a timeout) for every check that needs this run
    return outcome


# --- 3.1 split_indices --------------------------------------------------------------------------------------

# (n_samples, val_fraction or None for the default, through a generator (True) or the global random state (False))
SPLIT_SHAPES: list[tuple[int, float | None, bool]] = [
    (11, 0.2, True),
    (50, 0.3, True),
    (13, None, True),  # default 0.2: int(2.6) == 2, where round() would give 3
    (4, 0.2, True),  # n_val == 0
    (1, None, True),  # n_val == 0, a single sample
    (40, 0.25, False),  # no generator: torch.manual_seed(seed), then split_indices draws from the global state
    (12, None, False),
    (3, 0.2, False),  # n_val == 0 without a generator
]

SplitCase = tuple[int, float | None, int, bool]


def split_cases(course: Course) -> list[SplitCase]:
    """SPLIT_SHAPES with each case's seed (for its generator, or for torch.manual_seed) from course.yml's seed."""
    return [
        (n_samples, val_fraction, input_seed(course.seed, f"split:{index}"), through_generator)
        for index, (n_samples, val_fraction, through_generator) in enumerate(SPLIT_SHAPES)
    ]


def split_results(student: Student, course: Course) -> list[tuple[SplitCase, dict[str, Any]]]:
    cases = split_cases(course)
    results: list[dict[str, Any]] = run_once(student, "split", "split_indices", cases=cases)["results"]
    return list(zip(cases, results, strict=True))


def n_val_of(case: SplitCase) -> int:
    n_samples, val_fraction, _, _ = case
    return int((0.2 if val_fraction is None else val_fraction) * n_samples)


def describe_case(case: SplitCase) -> str:
    n_samples, val_fraction, _, through_generator = case
    fraction = "" if val_fraction is None else f", val_fraction={val_fraction}"
    if through_generator:
        return f"split_indices({n_samples}{fraction}, generator=torch.Generator().manual_seed(...))"
    return f"torch.manual_seed(...); split_indices({n_samples}{fraction})"


def expected_split(case: SplitCase) -> tuple[Tensor, Tensor]:
    """The reference split: torch.manual_seed(seed) then torch.randperm(n) draws what a generator seeded alike does."""
    n_samples, _, seed, _ = case
    n_val = n_val_of(case)
    perm = torch.randperm(n_samples, generator=torch.Generator().manual_seed(seed))
    return perm[: n_samples - n_val], perm[n_samples - n_val :]


def follows_randperm(case: SplitCase, result: dict[str, Any]) -> bool:
    if "failure" in result:
        return False
    expected_train, expected_val = expected_split(case)
    return torch.equal(result["train"].long(), expected_train) and torch.equal(result["val"].long(), expected_val)


# Generators a split might make for itself when none is given: a fresh one (its fixed default seed) and usual seeds.
PRIVATE_GENERATORS: dict[str, int | None] = {
    "a fresh torch.Generator()": None,
    **{f"torch.Generator().manual_seed({seed})": seed for seed in (0, 1, 42)},
}


def private_generator(seed: int | None) -> torch.Generator:
    return torch.Generator() if seed is None else torch.Generator().manual_seed(seed)


def split_mistake(train: Tensor, val: Tensor, case: SplitCase) -> str:
    """The likely mistake behind a split that is a partition but not the expected one; named only when replayed."""
    n_samples, _, seed, through_generator = case
    n_val = n_val_of(case)
    perm = torch.randperm(n_samples, generator=torch.Generator().manual_seed(seed))
    if len(val) != n_val:
        return f"expected n_val = int(val_fraction * n_samples) = {n_val} validation indices, got {len(val)}"
    if torch.equal(val, perm[:n_val]) or torch.equal(train, perm[n_val:]):
        return "the validation indices must be the LAST n_val entries of the permutation, not the first"
    if torch.equal(torch.cat([train, val]), torch.arange(n_samples)) or torch.equal(
        torch.cat([val, train]), torch.arange(n_samples)
    ):
        return "the split is not shuffled: use perm = torch.randperm(n_samples, generator=generator)"
    if set(val.tolist()) == set(perm[n_samples - n_val :].tolist()):
        return "the right indices in the wrong order: keep the order of perm (no sorting)"
    if not through_generator:
        for made, private_seed in PRIVATE_GENERATORS.items():
            private = torch.randperm(n_samples, generator=private_generator(private_seed))
            if torch.equal(val, private[n_samples - n_val :]):
                return (
                    f"without a generator your split draws from {made}, not from the global random state: with "
                    "generator=None, torch.randperm(n_samples, generator=generator) follows torch.manual_seed"
                )
        return (
            "without a generator the split must follow the global random state (torch.manual_seed): "
            "perm = torch.randperm(n_samples, generator=generator) with generator=None"
        )
    return "the split does not follow torch.randperm(n_samples, generator=generator): did you pass the generator?"


@pytest.mark.public
@pytest.mark.points(3, exercise="3.1")
def test_split_is_a_partition(student: Student, course: Course) -> None:
    """split_indices returns disjoint int64 index tensors that cover every sample"""
    for case, result in split_results(student, course):
        if n_val_of(case) == 0:
            continue  # judged by test_split_without_validation alone
        call = describe_case(case)
        assert "failure" not in result, f"{call} failed: {result.get('failure')}"
        train, val = result["train"], result["val"]
        assert train.dtype == torch.int64 and val.dtype == torch.int64, (
            f"{call} returned {train.dtype} and {val.dtype}: indices must be int64 (torch.randperm gives them)"
        )
        assert train.dim() == 1 and val.dim() == 1, (
            f"{call} returned shapes {list(train.shape)} and {list(val.shape)}: expected 1-d [n_train] and [n_val]"
        )
        everything = torch.cat([train, val])
        assert torch.equal(everything.sort().values, torch.arange(case[0])), (
            f"{call}: training and validation indices must be disjoint and together hold each of 0..{case[0] - 1} once"
        )


def judge_randperm(student: Student, course: Course, *, through_generator: bool) -> None:
    for case, result in split_results(student, course):
        if case[3] != through_generator or n_val_of(case) == 0:
            continue
        call = describe_case(case)
        assert "failure" not in result, f"{call} failed: {result.get('failure')}"
        assert follows_randperm(case, result), (
            f"{call}: {split_mistake(result['train'].long(), result['val'].long(), case)}"
        )


@pytest.mark.points(3, exercise="3.1")
def test_split_follows_randperm(student: Student, course: Course) -> None:
    """split_indices takes the last n_val entries of torch.randperm(n_samples, generator=generator) for validation"""
    judge_randperm(student, course, through_generator=True)


@pytest.mark.points(1, exercise="3.1")
def test_split_follows_the_global_random_state(student: Student, course: Course) -> None:
    """split_indices without a generator follows the global random state (torch.manual_seed, then torch.randperm)"""
    judge_randperm(student, course, through_generator=False)


@pytest.mark.public
@pytest.mark.points(1, exercise="3.1")
def test_split_without_validation(student: Student, course: Course) -> None:
    """split_indices keeps every sample for training when int(val_fraction * n_samples) == 0"""
    results = split_results(student, course)
    for case, result in results:
        if n_val_of(case) != 0:
            continue
        n_samples = case[0]
        call = describe_case(case)
        assert "failure" not in result, f"{call} failed: {result.get('failure')}"
        train, val = result["train"], result["val"]
        assert len(val) == 0, (
            f"{call}: n_val = int(val_fraction * n_samples) = 0, so the validation set must be empty "
            f"(got {len(val)} indices; beware perm[-0:], which is all of perm)"
        )
        assert val.dtype == torch.int64 and list(val.shape) == [0], (
            f"{call}: the empty validation indices are a {val.dtype} tensor of shape {list(val.shape)}: they must be "
            "int64 of shape [0] like every index tensor (perm[n_train:] gives that, torch.tensor([]) is float32)"
        )
        assert train.dtype == torch.int64 and train.dim() == 1, (
            f"{call} returned training indices of {train.dtype} and shape {list(train.shape)}: expected int64 [n_samples]"
        )
        assert torch.equal(train.sort().values, torch.arange(n_samples)), (
            f"{call}: with n_val == 0 the training indices must hold each of 0..{n_samples - 1} once"
        )
        # The order is the permutation's, judged here only where the splits with validation follow randperm:
        # otherwise the randperm checks have charged for it.
        same_kind = [follows_randperm(c, r) for c, r in results if c[3] == case[3] and n_val_of(c) != 0]
        expected_train, _ = expected_split(case)
        assert torch.equal(train, expected_train) or not all(same_kind), (
            f"{call}: with n_val == 0 the training indices are all of torch.randperm(n_samples, generator=generator), "
            "in its order"
        )


# --- 3.2 training_loop --------------------------------------------------------------------------------------


def trajectory_run(student: Student, course: Course) -> tuple[TrainingProblem, dict[str, Any]]:
    problem = trajectory_problem(input_seed(course.seed, "trajectory"))
    return problem, run_once(student, "trajectory", "training_loop", called=problem.describe(), **problem.arguments())


def convergence_run(student: Student, course: Course) -> tuple[TrainingProblem, Tensor, Tensor, dict[str, Any]]:
    problem, t_u_held_out, t_c_held_out = convergence_problem(input_seed(course.seed, "convergence"))
    run = run_once(student, "convergence", "training_loop", called=problem.describe(), **problem.arguments())
    return problem, t_u_held_out, t_c_held_out, run


def training_forwards(problem: TrainingProblem, run: dict[str, Any]) -> int:
    """Forward calls with gradients on over all of t_u_train, as the student's process counted them."""
    return sum(1 for rows, grad in run["forward_calls"] if grad and rows == len(problem.t_u_train))


def history_lengths(run: dict[str, Any]) -> dict[str, int | None]:
    history = run["history"]
    if not isinstance(history, dict):
        return {"train": None, "val": None}
    return {key: len(history[key]) if isinstance(history.get(key), list) else None for key in ("train", "val")}


@pytest.mark.points(8, exercise="3.2")
def test_training_follows_reference(student: Student, course: Course) -> None:
    """training_loop moves the weights exactly as the reference loop does"""
    problem, run = trajectory_run(student, course)
    # Calibrated by bench/calibrate_training.py (course.yml's comment gives the measurement).
    tolerance = course.thresholds["training_trajectory_tolerance"]
    distance = state_distance(run["state"], replay(problem).state)
    assert distance <= tolerance, (
        f"after {problem.n_epochs} epochs of SGD from the grader's weights, the weights differ from the reference "
        f"loop's: {trajectory_mistake(problem, run, tolerance)}"
    )
    assert run["steps"] == problem.n_epochs, (
        f"the optimizer stepped {run['steps']} times in {problem.n_epochs} epochs: call optimizer.step() once per epoch"
    )


# Loops that step on the training loss of model(t_u_train) once or more per epoch, whatever else they get wrong.
TRAINS_ON_TRAINING_DATA = ("reference", "no-zero-grad", "two-steps", EPOCH_SHORT, "epoch-long")


@pytest.mark.points(3, exercise="3.2")
def test_validation_without_grad(student: Student, course: Course) -> None:
    """training_loop runs one training forward per epoch and the validation forward under torch.no_grad()"""
    problem, run = trajectory_run(student, course)
    tolerance = course.thresholds["training_trajectory_tolerance"]
    calls: list[tuple[int, bool]] = run["forward_calls"]
    n_train, n_val = len(problem.t_u_train), len(problem.t_u_val)
    train_calls = [grad for rows, grad in calls if rows == n_train]
    val_calls = [grad for rows, grad in calls if rows == n_val]
    assert calls, "the model you were given was never called: train that model, not a copy of it"
    if not train_calls:
        variant = matched_variant(problem, run, tolerance)
        if variant is not None and variant != "reference":
            pytest.fail(hint_of(variant))
        sizes = ", ".join(str(rows) for rows in sorted({rows for rows, _ in calls}))
        pytest.fail(f"no forward call of the model had the {n_train} rows of t_u_train: its calls had {sizes} rows")
    assert all(train_calls), (
        "the forward pass on the training data must run with gradients enabled (it is what backward() follows)"
    )
    assert len(train_calls) == problem.n_epochs, (
        f"expected one forward pass on the training data per epoch ({problem.n_epochs}), got {len(train_calls)}"
    )
    assert val_calls, "the validation loss was never computed: evaluate the model on t_u_val every epoch"
    assert not any(val_calls), (
        "the validation forward pass ran with gradients enabled: wrap it in `with torch.no_grad():` "
        "so the validation loss never takes part in the gradient"
    )
    # The record above comes from the student's process: the point rests on the weights the loop reached (at its
    # end, or at an earlier epoch of the reference's path, as a loop that restores its best weights keeps them).
    assert any(
        state_distance(run["state"], replay(problem, variant).state) <= tolerance for variant in TRAINS_ON_TRAINING_DATA
    ) or ended_at_epoch(replay(problem), run["state"], tolerance) not in (None, 0), (
        "this point also needs the weights of the model you were given to end where a loop that steps on the "
        "training loss every epoch puts them, and they do not (see the trajectory check)"
    )


@pytest.mark.points(5, exercise="3.2")
def test_history_matches_training(student: Student, course: Course) -> None:
    """training_loop returns {"train": [...], "val": [...]}, one float per epoch, the losses it trained with"""
    problem, run = trajectory_run(student, course)
    history = run["history"]
    assert isinstance(history, dict), (
        f"training_loop returned {history}, expected a dict {{'train': [...], 'val': [...]}}"
    )
    for key in ("train", "val"):
        assert key in history, f"the history has no {key!r} key: return {{'train': [...], 'val': [...]}}"
        values = history[key]
        assert isinstance(values, list), f"history[{key!r}] is a {values}, expected a list of floats"
        assert len(values) == problem.n_epochs, (
            f"history[{key!r}] holds {len(values)} values for {problem.n_epochs} epochs: append one loss per epoch"
        )
        odd = sorted({str(v) for v in values if type(v) is not float})
        assert not odd, f"history[{key!r}] holds {', '.join(odd)}, not Python floats: use loss.item()"
    # The losses are judged against the replay of the loop the weights show, right or wrong (see the trajectory
    # check), so a trajectory mistake costs the history no points of its own.
    tolerance = course.thresholds["training_trajectory_tolerance"]
    variant = matched_variant(problem, run, tolerance)
    if variant is None and ended_at_epoch(replay(problem), run["state"], tolerance) is not None:
        variant = "reference"  # the reference's path, with the weights of an earlier epoch kept at the end
    assert variant is not None and not variant.startswith("minibatch-"), (
        "the history cannot be checked: the model you were given did not end with the weights of the reference loop "
        "or of any mistake the grader replayed (see the trajectory check), and the history must be the losses of "
        "that model's training"
    )
    expected = replay(problem, variant)
    trained_on = [expected.train] + ([expected.val_before_step] if variant == "step-on-val" else [])
    assert any(same_losses(history["train"], losses) for losses in trained_on), (
        "history['train'] differs from the training losses of the run: append loss_train.item() of each epoch"
    )
    assert same_losses(history["val"], expected.val_before_step) or same_losses(
        history["val"], expected.val_after_step
    ), "history['val'] differs from the validation losses of the run: append the validation loss's .item() each epoch"


def convergence_mistake(problem: TrainingProblem, run: dict[str, Any], expected: Replay, tolerance: float) -> str:
    rows = minibatch_rows(problem, run)
    if rows is not None and state_distance(run["state"], replay(problem, f"minibatch-{rows}").state) <= tolerance:
        return minibatch_hint(rows)
    epoch = ended_at_epoch(expected, run["state"], tolerance)
    if epoch is not None:
        return ended_at_epoch_hint(epoch, problem.n_epochs)
    return drift_hint(state_distance(run["state"], expected.state), problem.n_epochs)


@pytest.mark.points(6, exercise="3.2")
def test_training_converges(student: Student, course: Course, attach: Callable[[str, Any], None]) -> None:
    """a model trained with training_loop for many epochs takes every step and fits held-out measurements"""
    problem, t_u_held_out, t_c_held_out, run = convergence_run(student, course)
    model = build_model(problem.layers)
    try:
        model.load_state_dict(run["state"])
    except (RuntimeError, KeyError):
        pytest.fail("the trained model's weights came back with a different layout")
    with torch.no_grad():
        held_out_mse = float(nn.functional.mse_loss(model(t_u_held_out), t_c_held_out))
    # The student's feedback shows this fit beside the measurements it was trained on (unscaled readings).
    attach(
        "figure",
        {"layers": problem.layers, "state": run["state"], "t_u": 10 * problem.t_u_train, "t_c": problem.t_c_train},
    )
    # This run must go the way the short run went: the loop the trajectory run's weights show (the reference, or a
    # mistake charged there), replayed here for n_epochs. Where that run matched no loop, the counts and the fit judge.
    tolerance = course.thresholds["training_convergence_tolerance"]
    try:
        short_problem, short_run = trajectory_run(student, course)
    except StudentError:
        short_problem, short_run = None, None
    if short_problem is not None and short_run is not None:
        variant = matched_variant(short_problem, short_run, course.thresholds["training_trajectory_tolerance"])
        if variant is not None:
            expected = replay(problem, variant)
            distance = state_distance(run["state"], expected.state)
            assert distance <= tolerance, (
                f"after {problem.n_epochs} epochs of Adam, the weights are not those the loop of the "
                f"{short_problem.n_epochs}-epoch run reaches: {convergence_mistake(problem, run, expected, tolerance)}"
            )
    # What the student's process counted only denies; each count is judged here unless the short run, with the
    # same count wrong, has charged for it already.
    lengths, short_lengths = history_lengths(run), history_lengths(short_run) if short_run else {}
    for key in ("train", "val"):
        short_right = short_problem is None or short_lengths.get(key) == short_problem.n_epochs
        assert lengths[key] == problem.n_epochs or not short_right, (
            f"in a run of {problem.n_epochs} epochs, history[{key!r}] holds {lengths[key]} values: train for all "
            "n_epochs epochs and append one loss per epoch"
        )
    short_steps_right = short_problem is None or (
        short_run is not None and short_run["steps"] == short_problem.n_epochs
    )
    assert run["steps"] == problem.n_epochs or not short_steps_right, (
        f"in a run of {problem.n_epochs} epochs the optimizer stepped {run['steps']} times: one full-batch step per "
        "epoch, on all of t_u_train at once"
    )
    short_forwards_right = short_problem is None or (
        short_run is not None and training_forwards(short_problem, short_run) == short_problem.n_epochs
    )
    assert training_forwards(problem, run) == problem.n_epochs or not short_forwards_right, (
        f"in a run of {problem.n_epochs} epochs the model ran {training_forwards(problem, run)} forward passes on all "
        f"{len(problem.t_u_train)} rows of t_u_train with gradients on: one per epoch"
    )
    # Calibrated by bench/calibrate_training.py (course.yml's comment gives the measurement).
    threshold = course.thresholds["training_held_out_mse"]
    assert math.isfinite(held_out_mse) and held_out_mse < threshold, (
        f"after {problem.n_epochs} epochs of Adam (lr {problem.lr}) on 30 measurements, the model's mean squared "
        f"error on held-out measurements is {held_out_mse:.3g} (a correct loop reaches below {threshold}): "
        "check that every epoch runs zero_grad, backward on the training loss, and step"
    )


# --- 3.3 plot_fit -------------------------------------------------------------------------------------------

PLOT_LAYERS: Layers = [("linear", [1, 6]), ("tanh", []), ("linear", [6, 1])]
OTHER_SCALE = 0.05
NO_LINE = ("None", "none", "", " ")
NO_MARKER = ("None", "none", "", " ")


@dataclasses.dataclass(frozen=True)
class PlotRun:
    state: dict[str, Tensor]
    t_u: Tensor
    t_c: Tensor
    scale: float
    figure: dict[str, Any]

    def expected_curve(self, x: Tensor, scale: float | None = None) -> Tensor:
        model = build_model(PLOT_LAYERS)
        model.load_state_dict(self.state)
        with torch.no_grad():
            return model((self.scale if scale is None else scale) * x.float().reshape(-1, 1)).flatten().double()


def plot_run(student: Student, course: Course, scale: float | None) -> PlotRun:
    """plot_fit on the grader's model and data, t_u and t_c of shape [N, 1] as the loader gives them; with the
    default scale (None) or another."""
    generator = torch.Generator().manual_seed(input_seed(course.seed, "plot"))
    state = initial_state(PLOT_LAYERS, generator)
    t_u, t_c = thermometer_data(9, generator, noise=2.0)
    called = (
        f"plot_fit(model, t_u, t_c{'' if scale is None else f', scale={scale}'}) with t_u and t_c of shape "
        f"{list(t_u.shape)}"
    )
    figure = run_once(
        student,
        f"plot-{scale}",
        "plot_fit",
        called=called,
        layers=PLOT_LAYERS,
        state=state,
        t_u=t_u,
        t_c=t_c,
        scale=scale,
        png=False,
    )
    return PlotRun(state, t_u, t_c, 0.1 if scale is None else scale, figure)


def series(figure: dict[str, Any]) -> list[tuple[dict[str, Any], str, Tensor, Tensor]]:
    """Every (axes, kind, x, y) the figure shows; kind is "points" (markers without a line), "line" or "scatter"."""
    found = []
    for axes in figure["axes"]:
        for line in axes["lines"]:
            kind = "points" if line["linestyle"] in NO_LINE and line["marker"] not in NO_MARKER else "line"
            if line["linestyle"] in NO_LINE and line["marker"] in NO_MARKER:
                continue  # draws nothing
            found.append((axes, kind, line["x"].double(), line["y"].double()))
        for points in axes["points"]:
            found.append((axes, "scatter", points["x"].double(), points["y"].double()))
    return found


def same_pairs(x: Tensor, y: Tensor, t_u: Tensor, t_c: Tensor) -> bool:
    """The same (x, y) pairs in any order."""
    if x.numel() != t_u.numel() or y.numel() != t_c.numel() or x.numel() != y.numel():
        return False
    shown = torch.tensor(sorted(zip(x.tolist(), y.tolist(), strict=True)), dtype=torch.float64)
    given = torch.tensor(sorted(zip(t_u.flatten().tolist(), t_c.flatten().tolist(), strict=True)), dtype=torch.float64)
    return torch.allclose(shown, given, rtol=1e-5, atol=1e-4)


def close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-4))


def covers_inputs(x: Tensor) -> bool:
    """The curve spans the inputs 20..89 the contract asks for."""
    return x.numel() >= 2 and float(x.min()) <= 20.0 + 1e-3 and float(x.max()) >= 89.0 - 1e-3


def curve_mistake(run: PlotRun, curves: list[tuple[Tensor, Tensor]]) -> str:
    if not curves:
        return "no curve found: draw the model's prediction as a line, e.g. ax.plot(t_range, prediction, '-')"
    for x, y in curves:
        if close(y, run.expected_curve(x, scale=1.0)):
            return "the curve is model(t_range): feed the model scale * t_range, the inputs it was trained on"
        if abs(run.scale - 0.1) > 1e-9 and close(y, run.expected_curve(x, scale=0.1)):
            return f"the curve ignores the scale argument ({run.scale}): use scale * t_range, not 0.1 * t_range"
        if close(y, run.expected_curve(x)) and not covers_inputs(x):
            return "the curve must cover the inputs 20..89: t_range = torch.arange(20., 90.)"
        if close(y, run.expected_curve(torch.arange(20.0, 90.0).double())) and not close(
            x, torch.arange(20.0, 90.0).double()
        ):
            return "plot the curve against t_range itself (20..89), not against the scaled inputs"
    return "the curve's heights are not the model's predictions: plot model(scale * t_range) against t_range"


def shows_the_model(run: PlotRun) -> bool:
    """Whether some series of the figure is the grader's model's prediction (at any scale tried, or over 20..89).

    The evidence behind the points for the measurements and the labels, which the student's process reports:
    only a plot_fit that ran the model it was given draws its predictions for the grader's weights.
    """
    over_inputs = run.expected_curve(torch.arange(20.0, 90.0).double())
    for _, _, x, y in series(run.figure):
        if close(y, over_inputs) or any(close(y, run.expected_curve(x, scale=s)) for s in {run.scale, 0.1, 1.0}):
            return True
    return False


NOT_SHOWN = (
    "the figure does not show the model's prediction for the weights it was given (see the curve check), and this "
    "point needs a figure plot_fit drew with that model"
)


def the_curve(run: PlotRun) -> tuple[dict[str, Any] | None, str]:
    """(the axes holding the model's curve, or None, and the likely mistake when there is none)."""
    lines = [(axes, x, y) for axes, kind, x, y in series(run.figure) if kind == "line"]
    for axes, x, y in lines:
        if covers_inputs(x) and close(y, run.expected_curve(x)):
            return axes, ""
    return None, curve_mistake(run, [(x, y) for _, x, y in lines])


@pytest.mark.points(3, exercise="3.3")
def test_plot_shows_measurements(student: Student, course: Course) -> None:
    """plot_fit shows the measurements as points"""
    run = plot_run(student, course, None)
    shown = series(run.figure)
    if any(kind in ("points", "scatter") and same_pairs(x, y, run.t_u, run.t_c) for _, kind, x, y in shown):
        assert shows_the_model(run), NOT_SHOWN
        return
    if any(same_pairs(x, y, run.t_u, run.t_c) for _, _, x, y in shown):
        pytest.fail("the measurements are joined by a line: draw them as points, ax.plot(t_u, t_c, 'o') or ax.scatter")
    if any(same_pairs(x, y, run.t_c, run.t_u) for _, _, x, y in shown):
        pytest.fail("the measurements are plotted with the axes swapped: t_u along x, t_c along y")
    if any(same_pairs(x, y, 0.1 * run.t_u, run.t_c) for _, _, x, y in shown):
        pytest.fail("the measurements are plotted against the scaled inputs: plot t_c against t_u as given")
    pytest.fail("no points at the measurements (t_u, t_c) given to plot_fit: plot them with ax.plot(t_u, t_c, 'o')")


@pytest.mark.points(4, exercise="3.3")
def test_plot_shows_model_curve(student: Student, course: Course) -> None:
    """plot_fit draws the model's prediction over the inputs 20..89 as a curve"""
    axes, mistake = the_curve(plot_run(student, course, None))
    assert axes is not None, mistake


@pytest.mark.points(1, exercise="3.3")
def test_plot_honours_scale(student: Student, course: Course) -> None:
    """plot_fit feeds the model scale * input for a scale other than 0.1"""
    axes, mistake = the_curve(plot_run(student, course, OTHER_SCALE))
    assert axes is not None, f"with plot_fit(model, t_u, t_c, scale={OTHER_SCALE}): {mistake}"


@pytest.mark.public
@pytest.mark.points(2, exercise="3.3")
def test_plot_labels_axes(student: Student, course: Course) -> None:
    """plot_fit labels the x axis Fahrenheit and the y axis Celsius"""
    run = plot_run(student, course, None)
    axes, _ = the_curve(run)
    candidates = [axes] if axes is not None else run.figure["axes"]
    assert candidates, "plot_fit returned a figure without axes: draw on fig.add_subplot() or plt.subplots()"

    def says(label: str, unit: str, symbol: str) -> bool:
        return unit in label.lower() or symbol in label.replace(" ", "").upper()

    labelled = [
        ax for ax in candidates if says(ax["xlabel"], "fahrenheit", "°F") and says(ax["ylabel"], "celsius", "°C")
    ]
    if labelled:
        assert shows_the_model(run), NOT_SHOWN
        return
    if any(says(ax["xlabel"], "celsius", "°C") and says(ax["ylabel"], "fahrenheit", "°F") for ax in candidates):
        pytest.fail("the axis labels are swapped: x is Fahrenheit, y is Celsius")
    first = candidates[0]
    pytest.fail(
        f"the axes are labelled x={first['xlabel']!r}, y={first['ylabel']!r}: "
        "use ax.set_xlabel('Fahrenheit') and ax.set_ylabel('Celsius')"
    )
