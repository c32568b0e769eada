"""Run a function in a forked child of the test process, as the warm worker runs student code, and get its result."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_in_child(
    function: Callable[[], Any], *, before: Callable[[], object] | None = None, timeout: int = 120
) -> tuple[int, Any]:
    """Fork, call `before` (the restriction under test) then `function`; the child's wait status and JSON result.

    The child never returns into pytest: it reports through a pipe and leaves with `os._exit`. An exception in
    the child fails the calling test with the child's message.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_end)
            signal.alarm(timeout)
            if before is not None:
                before()
            payload = {"result": function()}
        except BaseException as error:
            payload = {"error": f"{type(error).__name__}: {error}"}
            code = 1
        try:
            os.write(write_end, json.dumps(payload).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    payload = json.loads(b"".join(chunks)) if chunks else {}
    assert "error" not in payload, payload["error"]
    return status, payload.get("result")


def train_and_plot(picture: Path) -> dict[str, Any]:
    """What a student's child does under the restrictions: train a small net with threads, save a PNG of it.

    Call it in the child: torch and matplotlib are imported by the test module before the fork, as in the worker.
    """
    import matplotlib.pyplot as plt
    import torch

    torch.set_num_threads(2)  # starts the intra-op thread pool under the restriction
    generator = torch.Generator().manual_seed(0)
    t_u = torch.rand(64, 1, generator=generator) * 10
    t_c = 0.5 * t_u - 3
    model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(300):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(t_u), t_c)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    product = torch.randn(256, 256, generator=generator) @ torch.randn(256, 256, generator=generator)
    figure, axes = plt.subplots()
    axes.plot(t_u.squeeze().tolist(), model(t_u).detach().squeeze().tolist(), "o")
    axes.set_title("fit")
    figure.savefig(picture)
    plt.close(figure)
    return {"first": losses[0], "last": losses[-1], "finite": bool(torch.isfinite(product).all())}
