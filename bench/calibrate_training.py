"""Measure the training graders' thresholds by running the reference solution over many seeds.

    .venv/bin/python bench/calibrate_training.py [--seeds 30]

The graders draw their inputs from course.yml's `seed` (graders/test_training.py, `input_seed`), so the
seeds measured here are course seeds 0..N-1: the inputs a course with each of those seeds would grade with.
Prints, for each threshold in course.yml that graders/test_training.py uses, what the reference
(solutions/training.py) and correct rewrites reach over the seeds (min / median / max) and what the usual
mistakes reach, so the threshold can sit between them with a stated margin:

- training_trajectory_tolerance: the relative distance between the weights the reference loop (and
  correct rewrites of it) ends with after the 20 SGD epochs of the trajectory run and the grader's replay,
  against the distance of each mistake.
- training_convergence_tolerance: the same distance after the 200 Adam epochs of the convergence run,
  against the closest mistakes there (one epoch short, minibatches of 10, two steps per epoch).
- training_held_out_mse: the held-out MSE of a model trained by the reference loop in the grader's
  convergence problem, against an untrained model and the mistakes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parent.parent

TrainingLoop = Callable[..., dict[str, list[float]]]


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def loop_zero_grad_last(
    n_epochs: int,
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    loss_fn: nn.Module,
    t_u_train: Tensor,
    t_u_val: Tensor,
    t_c_train: Tensor,
    t_c_val: Tensor,
) -> dict[str, list[float]]:
    """A correct rewrite: zero_grad after the step, validation after the step."""
    history: dict[str, list[float]] = {"train": [], "val": []}
    for _ in range(n_epochs):
        loss_train = loss_fn(model(t_u_train), t_c_train)
        loss_train.backward()
        optimizer.step()
        optimizer.zero_grad()
        with torch.no_grad():
            loss_val = loss_fn(model(t_u_val), t_c_val)
        history["train"].append(loss_train.item())
        history["val"].append(loss_val.item())
    return history


def loop_validation_first(
    n_epochs: int,
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    loss_fn: nn.Module,
    t_u_train: Tensor,
    t_u_val: Tensor,
    t_c_train: Tensor,
    t_c_val: Tensor,
) -> dict[str, list[float]]:
    """A correct rewrite: validation first, zero_grad(set_to_none=False), the loss with its arguments swapped."""
    history: dict[str, list[float]] = {"train": [], "val": []}
    for _ in range(n_epochs):
        with torch.no_grad():
            history["val"].append(loss_fn(model(t_u_val), t_c_val).item())
        optimizer.zero_grad(set_to_none=False)
        loss_train = loss_fn(t_c_train, model(t_u_train))
        loss_train.backward()
        optimizer.step()
        history["train"].append(loss_train.item())
    return history


def run_loop(training_loop: TrainingLoop, grader: ModuleType, problem: Any) -> dict[str, Tensor]:
    model = grader.build_model(problem.layers)
    model.load_state_dict(problem.state)
    optimizer = grader.make_optimizer(problem.optimizer, model.parameters(), problem.lr)
    with contextlib.redirect_stdout(io.StringIO()):
        training_loop(
            problem.n_epochs,
            optimizer,
            model,
            nn.MSELoss(),
            problem.t_u_train,
            problem.t_u_val,
            problem.t_c_train,
            problem.t_c_val,
        )
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def held_out_mse(grader: ModuleType, layers: Any, state: dict[str, Tensor], t_u: Tensor, t_c: Tensor) -> float:
    model = grader.build_model(layers)
    model.load_state_dict(state)
    with torch.no_grad():
        return float(nn.functional.mse_loss(model(t_u), t_c))


def summary(values: list[float]) -> str:
    return f"min {min(values):.4g} / median {statistics.median(values):.4g} / max {max(values):.4g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    course_seeds = range(parser.parse_args().seeds)
    torch.set_num_threads(1)
    grader = load(ROOT / "graders" / "test_training.py", "calibrated_grader")
    solution = load(ROOT / "solutions" / "training.py", "reference_training")
    correct_loops: dict[str, TrainingLoop] = {
        "reference": solution.training_loop,
        "zero-grad-last": loop_zero_grad_last,
        "validation-first": loop_validation_first,
    }
    trajectories = [grader.trajectory_problem(grader.input_seed(s, "trajectory")) for s in course_seeds]
    convergences = [grader.convergence_problem(grader.input_seed(s, "convergence")) for s in course_seeds]

    print(f"training_trajectory_tolerance: course seeds 0..{len(course_seeds) - 1}, trajectory_problem")
    for name, loop in correct_loops.items():
        distances = [
            grader.state_distance(run_loop(loop, grader, problem), grader.replay(problem).state)
            for problem in trajectories
        ]
        print(f"  correct {name:>18}: {summary(distances)}")
    for variant in [*grader.MISTAKES, grader.EPOCH_SHORT]:
        distances = [
            grader.state_distance(grader.replay(problem, variant).state, grader.replay(problem).state)
            for problem in trajectories
        ]
        print(f"  mistake {variant:>18}: {summary(distances)}")

    print(f"training_convergence_tolerance: the same seeds, convergence_problem ({grader.CONVERGENCE_EPOCHS} epochs)")
    for name, loop in correct_loops.items():
        distances = [
            grader.state_distance(run_loop(loop, grader, problem), grader.replay(problem).state)
            for problem, _, _ in convergences
        ]
        print(f"  correct {name:>18}: {summary(distances)}")
    for variant in (grader.EPOCH_SHORT, "minibatch-10", "two-steps", "epoch-long"):
        distances = [
            grader.state_distance(grader.replay(problem, variant).state, grader.replay(problem).state)
            for problem, _, _ in convergences
        ]
        print(f"  mistake {variant:>18}: {summary(distances)}")

    print(f"training_held_out_mse: the same seeds, convergence_problem ({grader.CONVERGENCE_EPOCHS} epochs)")
    started = time.perf_counter()
    reference = [
        held_out_mse(grader, problem.layers, run_loop(solution.training_loop, grader, problem), t_u, t_c)
        for problem, t_u, t_c in convergences
    ]
    per_run = (time.perf_counter() - started) / len(course_seeds)
    print(f"  reference         : {summary(reference)}  ({per_run * 1000:.0f} ms per run)")
    untrained = [held_out_mse(grader, problem.layers, problem.state, t_u, t_c) for problem, t_u, t_c in convergences]
    print(f"  untrained         : {summary(untrained)}")
    for variant in [*grader.MISTAKES, grader.EPOCH_SHORT, "minibatch-10"]:
        values = [
            held_out_mse(grader, problem.layers, grader.replay(problem, variant).state, t_u, t_c)
            for problem, t_u, t_c in convergences
        ]
        print(f"  mistake {variant:>18}: {summary(values)}")


if __name__ == "__main__":
    main()
