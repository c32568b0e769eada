"""Benchmark: what the course's feedback picture (graders/fit_figure.py) costs per hand-in.

Times, interleaved in one run, drawing a whole figure for each picture (axes, measurements, legend and the
student's curve, as a fresh figure is drawn) and `figure_png` as it is (the axes, measurements and legend drawn
once per process, then only each hand-in's curve), for the same fits; reports the medians and their ratio.

    .venv/bin/python bench/figure_cost.py --rounds 30
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _figure_module() -> Any:
    spec = importlib.util.spec_from_file_location("course_figure", REPO / "graders" / "fit_figure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fit(seed: int) -> dict[str, Any]:
    """A fit of the form graders/test_training.py attaches: a small network and the book's kind of measurements."""
    generator = torch.Generator().manual_seed(seed)
    layers = [("linear", [1, 8]), ("tanh", []), ("linear", [8, 1])]
    model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    t_u = 20 + 70 * torch.rand(20, 1, generator=generator)
    t_c = (t_u - 32) * 5 / 9 + torch.randn(20, 1, generator=generator)
    return {"layers": layers, "state": model.state_dict(), "t_u": t_u, "t_c": t_c}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    module = _figure_module()
    fits = [_fit(seed % 4) for seed in range(options.rounds)]
    module.figure_png(fits[0])  # matplotlib's fonts and the first background, outside the timings

    def whole(fit: dict[str, Any]) -> bytes | None:
        module._background.cache_clear()
        return module.figure_png(fit)

    timings: dict[str, list[float]] = {"whole figure": [], "curve on the saved background": []}
    for fit in fits:
        for name, draw in (("whole figure", whole), ("curve on the saved background", module.figure_png)):
            started = time.perf_counter()
            png = draw(fit)
            timings[name].append(time.perf_counter() - started)
            assert png is not None and png.startswith(b"\x89PNG")
    medians = {name: statistics.median(values) for name, values in timings.items()}
    figures = {
        **{f"{name} (median s)": round(value, 4) for name, value in medians.items()},
        "ratio": round(medians["curve on the saved background"] / medians["whole figure"], 3),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
