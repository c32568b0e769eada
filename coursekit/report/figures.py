"""The report's own figures: score histograms drawn with matplotlib, embedded as SVG data URIs (sharp on screen
and in print, no file beside the page)."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

from coursekit.report.analysis import Distribution


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def histograms_svg(distributions: Sequence[Distribution]) -> str:
    """One small histogram per distribution, side by side, as an SVG data URI."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    count = max(1, len(distributions))
    figure = Figure(figsize=(2.6 * count, 2.2))
    axes_list = figure.subplots(1, count, squeeze=False)[0]
    for axes, distribution in zip(axes_list, distributions, strict=False):
        # Ten bins over the part's points, the last closed: a full mark falls in the top bin.
        edges = [distribution.points * i / 10 for i in range(11)]
        axes.hist(distribution.scores, bins=edges, color="#4c72b0", edgecolor="white")
        axes.set_title(_short(distribution.label), fontsize=9)
        axes.set_xlim(0, distribution.points)
        axes.set_xlabel(f"points (of {distribution.points:g})", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.yaxis.get_major_locator().set_params(integer=True)
        if distribution.mean is not None:
            axes.axvline(distribution.mean, color="#c44e52", linewidth=1, linestyle="--")
        if not math.isclose(axes.get_ylim()[1], 0.0):
            axes.set_ylim(0, axes.get_ylim()[1])
    axes_list[0].set_ylabel("hand-ins", fontsize=8)
    figure.subplots_adjust(left=0.06, right=0.99, bottom=0.22, top=0.86, wspace=0.3)
    buffer = io.StringIO()
    # Text as paths: the page needs no font of its own, and the metadata's date would change the file each run.
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return data_uri(buffer.getvalue().encode("utf-8"), "image/svg+xml")


def _short(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
