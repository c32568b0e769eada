"""The feedback picture (course.yml's chapter.figure): the student's trained line beside the measurements, the
book's figure 5.9, drawn on the trusted side from the "figure" attachment of graders/test_gradient_descent.py.

Only the trained parameters come back from the student's worker, as a plain tensor; the line is drawn here.
"""

from __future__ import annotations

import io
from typing import Any

import torch


def figure_png(fit: dict[str, Any]) -> bytes | None:
    """A PNG of the line `fit` describes ({"params": [w, b], "t_u", "t_c", "scale"}), or None if it cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    try:
        w, b = (float(value) for value in fit["params"])
        t_u, t_c, scale = fit["t_u"], fit["t_c"], float(fit["scale"])
    except (KeyError, TypeError, ValueError):
        return None
    t_range = torch.arange(20.0, 90.0)
    line = (w * scale * t_range + b).clamp(-1e3, 1e3)
    figure = Figure(figsize=(5, 3.5), dpi=80)
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.96)
    axes = figure.add_subplot()
    axes.plot(t_u.numpy(), t_c.numpy(), "o", label="measurements")
    axes.plot(t_range.numpy(), line.numpy(), "-", label="your trained line")
    axes.set_xlabel("Temperature (unknown units)")
    axes.set_ylabel("Temperature (Celsius)")
    axes.legend(loc="upper left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
