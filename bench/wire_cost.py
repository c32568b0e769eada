"""Benchmark: what one message costs to encode and decode, coursekit.sandbox.wire beside torch.save/torch.load.

Times encode + decode of messages the graders really exchange (an activation's request and answer, which
the activations part sends 68 times per hand-in, and a training_loop answer), with coursekit.sandbox.wire and
with torch.save + torch.load(weights_only=True), interleaved in one run, and reports the median of
`--rounds` rounds per message and their ratio.

    .venv/bin/python bench/wire_cost.py --rounds 7
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from coursekit.sandbox import wire


def typical_messages() -> dict[str, Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 24, generator=generator)
    state = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).state_dict()
    return {
        "activation request": {
            "probe": "value_and_grad",
            "arguments": {"function": "activations.tanh", "x": x, "kwargs": {}, "grad_output": torch.ones_like(x)},
        },
        "activation answer": {
            "ok": {"value": x.tanh(), "grad": 1 - x.tanh() ** 2, "requires_grad": True, "ops": ["aten::exp"] * 4}
        },
        "training_loop answer": {
            "ok": {
                "state": dict(state),
                "history": {"train": [0.5] * 200, "val": [0.6] * 200},
                "forward_calls": [(30, True), (10, False)] * 200,
            }
        },
    }


def with_wire(value: Any) -> Any:
    return wire.decode(wire.encode(value))


def with_torch_save(value: Any) -> Any:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return torch.load(io.BytesIO(buffer.getvalue()), weights_only=True, map_location="cpu")


def seconds_per_call(round_trip: Callable[[Any], Any], value: Any, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        round_trip(value)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200, help="round trips per message per round")
    options = parser.parse_args()
    torch.set_num_threads(1)
    figures: dict[str, dict[str, float]] = {}
    for name, value in typical_messages().items():
        for round_trip in (with_wire, with_torch_save):  # first use imports lazily: not part of the cost
            round_trip(value)
        runs: dict[str, list[float]] = {"wire": [], "torch_save": []}
        for _ in range(options.rounds):
            runs["wire"].append(seconds_per_call(with_wire, value, options.calls))
            runs["torch_save"].append(seconds_per_call(with_torch_save, value, options.calls))
        wire_us = statistics.median(runs["wire"]) * 1e6
        torch_us = statistics.median(runs["torch_save"]) * 1e6
        figures[name] = {
            "wire_bytes": len(wire.encode(value)),
            "torch_save_bytes": len(_saved(value)),
            "wire_us": round(wire_us, 1),
            "torch_save_us": round(torch_us, 1),
            "ratio": round(torch_us / wire_us, 1),
        }
    width = max(len(name) for name in figures)
    print(f"{'message':{width}}  {'wire':>9}  {'torch.save':>10}  {'ratio':>6}  (encode + decode, median)")
    for name, row in figures.items():
        print(f"{name:{width}}  {row['wire_us']:7.1f}us  {row['torch_save_us']:8.1f}us  {row['ratio']:5.1f}x")
    print(json.dumps(figures))


def _saved(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


if __name__ == "__main__":
    main()
