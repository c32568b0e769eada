"""The measurement behind course.yml's descent_tolerance: correct loops of several styles and the usual mistakes
against graders/test_gradient_descent.py's replay, on its three problems, 30 seeds each.

Run from the repository: `.venv/bin/python tests/courses/ch5/calibrate_descent.py`.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "graders"))
import test_gradient_descent as graders

STYLES = ("new leaf", "torch.optim.SGD", ".data", "torch.autograd.grad", "grad = None")


def correct_loop(style: str, problem: dict[str, Any]) -> torch.Tensor:
    """A correct training loop written in one of the styles students use."""
    model, loss_fn = graders.MODELS[problem["model"]], graders.LOSSES[problem["loss"]]
    lr, t_u, t_c = problem["learning_rate"], problem["t_u"], problem["t_c"]
    params = problem["params"].clone().requires_grad_(True)
    optimizer = torch.optim.SGD([params], lr=lr)
    for _ in range(problem["n_epochs"]):
        loss = loss_fn(model(t_u, *params), t_c)
        if style == "new leaf":
            loss.backward()
            params = (params - lr * params.grad).detach().requires_grad_()
        elif style == "torch.optim.SGD":
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        elif style == ".data":
            loss.backward()
            params.data -= lr * params.grad.data
            params.grad = None
        elif style == "torch.autograd.grad":
            (grad,) = torch.autograd.grad(loss, params)
            with torch.no_grad():
                params -= lr * grad
        else:
            loss.backward()
            with torch.no_grad():
                params.sub_(params.grad * lr)
            params.grad = None
    return params.detach()


def problems(seed: int) -> list[dict[str, Any]]:
    """The graders' three problems, the random ones drawn from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return [graders.book_problem(), graders.quadratic_problem(generator), graders.one_epoch_problem(generator)]


def main() -> None:
    for index, name in enumerate(("the book's readings", "quadratic, L1", "one epoch")):
        correct, closest = [], []
        for seed in range(30):
            problem = problems(seed)[index]
            replay = graders.descend(problem)
            correct += [graders.relative_difference(correct_loop(s, problem), replay) for s in STYLES]
            # A mistake that gives the replay's own parameters on this problem (no zero_grad in one epoch) is none.
            differences = [graders.relative_difference(r, replay) for r, _ in graders.mistakes(problem)]
            closest.append(min(d for d in differences if d > 0))
        print(
            f"{name}: correct loops max {max(correct):.2g}; closest mistake min {min(closest):.2g} / "
            f"median {statistics.median(closest):.2g} / max {max(closest):.2g}"
        )


if __name__ == "__main__":
    main()
