"""The feedback picture (course.yml's chapter.figure): the student's fitted curve beside the measurements, the
book's figure 6.9, drawn on the trusted side from the "figure" attachment of graders/test_training.py.

The weights come back from the student's worker as plain tensors; the figure is drawn here, with the course's
own code, so no image or object made by student code ever reaches the instructor's disk.

Every hand-in's picture has the same axes, measurements and legend (the grader's data), so they are drawn once
per process and each picture only adds the student's curve: a whole figure costs about 50 ms, the curve about
5 ms (bench/figure_cost.py).
"""

from __future__ import annotations

import functools
import io
from typing import Any

import torch

# Celsius beyond the measurements' range shown above and below them: a curve far off leaves the picture rather
# than squeezing the measurements into a line.
MARGIN_C = 8.0
T_RANGE = torch.arange(20.0, 90.0).unsqueeze(1)


@functools.cache
def _background(t_u: tuple[float, ...], t_c: tuple[float, ...]) -> Any:
    """The figure without the student's curve, rendered once, with its saved pixels and the curve's line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 3.5), dpi=80)
    canvas = FigureCanvasAgg(figure)
    # Fixed margins: tight_layout would cost more than the rest of the figure.
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.14, top=0.96)
    axes = figure.add_subplot()
    axes.plot(t_u, t_c, "o", label="the grader's measurements")
    (curve,) = axes.plot([], [], "c-", label="the grader's network, trained by your loop")
    axes.set_xlim(T_RANGE.min().item() - 2, T_RANGE.max().item() + 2)
    axes.set_ylim(min(t_c) - MARGIN_C, max(t_c) + MARGIN_C)
    axes.set_xlabel("Fahrenheit")
    axes.set_ylabel("Celsius")
    legend = axes.legend(loc="upper left")
    canvas.draw()
    return canvas, canvas.copy_from_bbox(figure.bbox), axes, curve, legend


def figure_png(fit: dict[str, Any], *, scale: float = 0.1) -> bytes | None:
    """A PNG of the model `fit` describes ({"layers", "state", "t_u", "t_c"}), or None if it cannot be drawn."""
    from PIL import Image

    from coursekit.sandbox.probes import sequential_from_layers

    try:
        model = sequential_from_layers(fit["layers"])
        model.load_state_dict(fit["state"])
        t_u = tuple(fit["t_u"].flatten().tolist())
        t_c = tuple(fit["t_c"].flatten().tolist())
    except (KeyError, RuntimeError, ValueError, TypeError, AttributeError):
        return None
    with torch.no_grad():
        values = model(scale * T_RANGE)
    if not torch.isfinite(values).all():
        values = torch.nan_to_num(values, nan=0.0, posinf=1e3, neginf=-1e3).clamp(-1e3, 1e3)
    canvas, pixels, axes, curve, legend = _background(t_u, t_c)
    canvas.restore_region(pixels)
    curve.set_data(T_RANGE.flatten().numpy(), values.flatten().numpy())
    axes.draw_artist(curve)
    axes.draw_artist(legend)  # the legend stays above the curve, as in a whole drawing
    buffer = io.BytesIO()
    Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(buffer, "png")
    return buffer.getvalue()
