"""Appended to training.py: the reference figure, with an 8 MB x-axis label the graders quote back."""

_reference_plot_fit = plot_fit  # noqa: F821 (defined by the training.py this is appended to)


def plot_fit(model, t_u, t_c, scale=0.1):
    figure = _reference_plot_fit(model, t_u, t_c, scale=scale)
    figure.axes[0].set_xlabel("<&" * 4_000_000)
    return figure
