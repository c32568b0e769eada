"""The feedback picture (course.yml's chapter.figure): the student's fitted curve beside the measurements, the
book's figure 6.9, drawn on the trusted side from the "figure" attachment of graders/test_training.py.

The weights come back from the student's worker as plain tensors; the figure is drawn here, with the course's
own code, so no image or object made by student code ever reaches the instructor's disk.
"""

from __future__ import annotations

import io
from typing import Any

import torch

from coursekit.sandbox.probes import sequential_from_layers


def figure_png(fit: dict[str, Any], *, scale: float = 0.1) -> bytes | None:
    """A PNG of the model `fit` describes ({"layers", "state", "t_u", "t_c"}), or None if it cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    try:
        model = sequential_from_layers(fit["layers"])
        model.load_state_dict(fit["state"])
    except (KeyError, RuntimeError, ValueError, TypeError):
        return None
    t_range = torch.arange(20.0, 90.0).unsqueeze(1)
    with torch.no_grad():
        curve = model(scale * t_range)
    if not torch.isfinite(curve).all():
        curve = torch.nan_to_num(curve, nan=0.0, posinf=1e3, neginf=-1e3).clamp(-1e3, 1e3)
    figure = Figure(figsize=(5, 3.5), dpi=80)
    # Fixed margins: tight_layout would cost more than the rest of the figure.
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.96)
    axes = figure.add_subplot()
    axes.plot(fit["t_u"].flatten().numpy(), fit["t_c"].flatten().numpy(), "o", label="the grader's measurements")
    axes.plot(t_range.numpy(), curve.numpy(), "c-", label="the grader's network, trained by your loop")
    axes.set_xlabel("Fahrenheit")
    axes.set_ylabel("Celsius")
    axes.legend(loc="upper left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
