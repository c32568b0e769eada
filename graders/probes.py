"""Chapter 6's probes: what the worker runs beside the student's code for the graders, and each answer's form.

This file is the only one of the course the sandbox sees (course.yml's `chapter.probes`, mounted read-only). It
runs on the untrusted side, so it decides nothing: each probe calls the student's code on the grader's inputs
and returns plain data. The trusted side imports it too, for the answer forms it checks before a grader reads an
answer (coursekit.sandbox.answers): strict, no coercion, exact keys, tuples stay tuples; the values themselves
stay the graders' to judge.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any

import torch
from pydantic import StrictBool, StrictBytes, StrictFloat, StrictInt, StrictStr
from torch import Tensor, nn
from typing_extensions import TypedDict

from coursekit.sandbox.probes import (
    STRICT_ANSWER,
    AnyTensor,
    Failed,
    Handin,
    StudentFailure,
    call_student,
    plain_tensor,
    probe,
    sequential_from_layers,
)

Number = StrictInt | StrictFloat


def _state_of(module: nn.Module) -> dict[str, Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


class _ModelStructure(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    children: list[tuple[StrictStr, StrictStr]]
    parameters: list[tuple[StrictStr, tuple[StrictInt, ...], StrictBool]]
    state: dict[StrictStr, AnyTensor]
    overrides_call: StrictBool


@probe("model_structure", answer=_ModelStructure, function="TemperatureNet")
def probe_model_structure(handin: Handin, *, n_hidden: int | None) -> dict[str, Any]:
    """Build TemperatureNet(n_hidden) (or with its default) and describe what it registered."""
    cls = handin.function("model.TemperatureNet")
    model = call_student(handin, cls) if n_hidden is None else call_student(handin, cls, n_hidden)
    if not isinstance(model, nn.Module):
        raise StudentFailure(f"TemperatureNet() built a {type(model).__name__}, not an nn.Module")
    return {
        "children": [(name, type(child).__name__) for name, child in model.named_children()],
        "parameters": [(name, tuple(p.shape), bool(p.requires_grad)) for name, p in model.named_parameters()],
        "state": _state_of(model),
        "overrides_call": "__call__" in vars(type(model)) or type(model).__call__ is not nn.Module.__call__,
    }


class _ModelForward(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    output: AnyTensor
    grads: dict[StrictStr, AnyTensor | None]
    activation_output: AnyTensor | None
    # The type of model.hidden_activation, None when it has none (only names the mistake in a message).
    activation_type: StrictStr | None


@probe("model_forward", answer=_ModelForward, function="TemperatureNet")
def probe_model_forward(
    handin: Handin,
    *,
    n_hidden: int | None,
    state: dict[str, Tensor],
    x: Tensor,
    hook_offset: float,
    grad_output: Tensor,
    activation_input: Tensor,
    child_offsets: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Build TemperatureNet(n_hidden) (None: with its default), load the grader's weights, call the model with a
    forward hook that adds `hook_offset`, backpropagate.

    The hook is the grader's witness that the module was called through nn.Module.__call__: if hooks
    are skipped, the offset is missing from the output the grader receives. `child_offsets` puts such a hook on
    each named submodule too, the witness that forward calls each one as a module.
    """
    cls = handin.function("model.TemperatureNet")
    model = call_student(handin, cls) if n_hidden is None else call_student(handin, cls, n_hidden)
    if not isinstance(model, nn.Module):
        built = f"TemperatureNet({'' if n_hidden is None else n_hidden})"
        raise StudentFailure(f"{built} built a {type(model).__name__}, not an nn.Module")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError) as error:
        raise StudentFailure(f"TemperatureNet's parameters do not match the contract: {error}") from None
    model.register_forward_hook(lambda _module, _inputs, output: output + hook_offset)
    for name, offset in (child_offsets or {}).items():
        child = getattr(model, name, None)
        if isinstance(child, nn.Module):
            child.register_forward_hook(lambda _module, _inputs, output, offset=offset: output + offset)
    output = call_student(handin, model, x)
    output_tensor = plain_tensor(output, "TemperatureNet.forward")
    grads: dict[str, Tensor | None] = {}
    if isinstance(output, Tensor) and output.requires_grad and output.shape == grad_output.shape:
        call_student(handin, output.backward, grad_output)
        for name, parameter in model.named_parameters():
            grads[name] = None if parameter.grad is None else parameter.grad.detach().clone()
    missing = object()
    activation = getattr(model, "hidden_activation", missing)
    activation_output = None
    if isinstance(activation, nn.Module):
        with torch.no_grad():
            activation_output = plain_tensor(call_student(handin, activation, activation_input), "hidden_activation")
    return {
        "output": output_tensor,
        "grads": grads,
        "activation_output": activation_output,
        "activation_type": None if activation is missing else type(activation).__name__,
    }


class _CountParameters(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    count: Number
    type: StrictStr


@probe("count_parameters", answer=_CountParameters, function="count_parameters")
def probe_count_parameters(
    handin: Handin,
    *,
    layers: list[tuple[str, list[int]]],
    frozen: list[str],
    tied: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """count_parameters on a model the grader described, with some parameters frozen and, for each
    (name, source) in `tied`, the parameter `name` replaced by the parameter `source` itself (shared weights)."""
    model = sequential_from_layers(layers)
    for name, source in tied or []:
        owner, _, attribute = name.rpartition(".")
        setattr(model.get_submodule(owner), attribute, model.get_parameter(source))
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name not in frozen)
    result = call_student(handin, handin.function("model.count_parameters"), model)
    returned = type(result).__name__  # before a one-element tensor becomes a number
    if isinstance(result, Tensor) and result.numel() == 1:
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise StudentFailure(f"count_parameters returned {type(result).__name__}, expected an int")
    return {"count": result, "type": returned}


class _Split(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    train: AnyTensor
    val: AnyTensor


class _SplitIndices(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    results: list[_Split | Failed]


@probe("split_indices", answer=_SplitIndices, function="split_indices")
def probe_split_indices(handin: Handin, *, cases: list[tuple[int, float | None, int, bool]]) -> dict[str, Any]:
    """Per case (n_samples, val_fraction, seed, through_generator): split_indices(n_samples[, val_fraction],
    generator=torch.Generator().manual_seed(seed)), or, without a generator, split_indices(n_samples[,
    val_fraction]) right after torch.manual_seed(seed).

    A generator cannot cross the boundary, so the worker builds it from the grader's seed. Each case
    answers on its own ({"train", "val"} or {"failure"}), so one failing case costs only its own checks.
    """
    function = handin.function("training.split_indices")
    results: list[dict[str, Any]] = []
    for n_samples, val_fraction, seed, through_generator in cases:
        kwargs: dict[str, Any] = {}
        if val_fraction is not None:
            kwargs["val_fraction"] = val_fraction
        if through_generator:
            kwargs["generator"] = torch.Generator().manual_seed(seed)
        else:
            torch.manual_seed(seed)
        try:
            result = call_student(handin, function, n_samples, **kwargs)
            if not isinstance(result, tuple | list) or len(result) != 2:
                raise StudentFailure(
                    f"split_indices returned {type(result).__name__}, expected a tuple (train_indices, val_indices)"
                )
            train, val = (plain_tensor(part, "split_indices") for part in result)
            results.append({"train": train, "val": val})
        except StudentFailure as failure:
            results.append({"failure": failure.message})
    return {"results": results}


def _close_pyplot_figures() -> None:
    """A clean pyplot state: no figure an earlier call left open can be drawn on by the next one."""
    if "matplotlib.pyplot" in sys.modules:
        with contextlib.suppress(Exception):
            sys.modules["matplotlib.pyplot"].close("all")


class _TrainingLoop(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    state: dict[StrictStr, AnyTensor]
    history: dict[StrictStr, list[Number | StrictStr] | StrictStr] | StrictStr
    forward_calls: list[tuple[StrictInt, StrictBool]]
    steps: StrictInt


@probe("training_loop", answer=_TrainingLoop, function="training_loop")
def probe_training_loop(
    handin: Handin,
    *,
    layers: list[tuple[str, list[int]]],
    state: dict[str, Tensor],
    optimizer: str,
    lr: float,
    n_epochs: int,
    t_u_train: Tensor,
    t_u_val: Tensor,
    t_c_train: Tensor,
    t_c_val: Tensor,
) -> dict[str, Any]:
    """Run the student's training_loop on the grader's model, weights, optimizer and data.

    Returns the final weights (which the grader replays and judges), the history as returned, per forward
    call of the model the number of rows and whether grad mode was on, and how many times the optimizer stepped.
    """
    _close_pyplot_figures()
    model = sequential_from_layers(layers)
    model.load_state_dict(state)
    optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
    opt = optimizers[optimizer](model.parameters(), lr=lr)
    calls: list[tuple[int, bool]] = []

    def record_call(module: nn.Module, inputs: tuple[Any, ...], _output: Any) -> None:
        # A deep copy of the model carries this hook along; only calls of the model handed over count.
        if module is model and inputs and isinstance(inputs[0], Tensor) and inputs[0].dim() > 0:
            calls.append((int(inputs[0].shape[0]), torch.is_grad_enabled()))

    model.register_forward_hook(record_call)
    steps = [0]

    def count_step(_optimizer: Any, _args: Any, _kwargs: Any) -> None:
        steps[0] += 1

    opt.register_step_post_hook(count_step)
    history = call_student(
        handin,
        handin.function("training.training_loop"),
        n_epochs,
        opt,
        model,
        nn.MSELoss(),
        t_u_train.clone(),
        t_u_val.clone(),
        t_c_train.clone(),
        t_c_val.clone(),
    )
    plain_history: dict[str, Any] | str
    if isinstance(history, dict):
        plain_history = {
            str(key): [v if type(v) in (int, float) else type(v).__name__ for v in values]
            if isinstance(values, list | tuple)
            else type(values).__name__
            for key, values in history.items()
        }
    else:
        plain_history = type(history).__name__
    return {"state": _state_of(model), "history": plain_history, "forward_calls": calls, "steps": steps[0]}


def _artist_data(fig: Any) -> dict[str, Any]:
    """What a figure shows: per axes, its labels, its lines and its scatter points."""
    import numpy as np

    axes = []
    for ax in fig.get_axes():
        lines = []
        for line in ax.get_lines():
            xs = np.asarray(line.get_xdata(), dtype=float).ravel()
            ys = np.asarray(line.get_ydata(), dtype=float).ravel()
            lines.append(
                {
                    "x": torch.from_numpy(xs.copy()),
                    "y": torch.from_numpy(ys.copy()),
                    "linestyle": str(line.get_linestyle()),
                    "marker": str(line.get_marker()),
                }
            )
        points = []
        for collection in ax.collections:
            offsets = np.asarray(collection.get_offsets(), dtype=float).reshape(-1, 2)
            points.append({"x": torch.from_numpy(offsets[:, 0].copy()), "y": torch.from_numpy(offsets[:, 1].copy())})
        axes.append({"xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(), "lines": lines, "points": points})
    return {"axes": axes}


class _Line(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    x: AnyTensor
    y: AnyTensor
    linestyle: StrictStr
    marker: StrictStr


class _Points(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    x: AnyTensor
    y: AnyTensor


class _Axes(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    xlabel: StrictStr
    ylabel: StrictStr
    lines: list[_Line]
    points: list[_Points]


class _PlotFit(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    axes: list[_Axes]
    png: StrictBytes | None


@probe("plot_fit", answer=_PlotFit, function="plot_fit")
def probe_plot_fit(
    handin: Handin,
    *,
    layers: list[tuple[str, list[int]]],
    state: dict[str, Tensor],
    t_u: Tensor,
    t_c: Tensor,
    scale: float | None,
    png: bool = True,
) -> dict[str, Any]:
    """Call plot_fit with the grader's model and data; return what the figure shows and (if `png`) a PNG of it.

    The call starts from a clean pyplot state: a figure an earlier call left open (a loss plot drawn by
    training_loop) is closed, so plot_fit is judged on the figure it makes itself. Rendering the PNG costs more
    than the rest of the call, so graders that only judge the data skip it.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    _close_pyplot_figures()
    model = sequential_from_layers(layers)
    model.load_state_dict(state)
    kwargs = {} if scale is None else {"scale": scale}
    fig = call_student(handin, handin.function("training.plot_fit"), model, t_u.clone(), t_c.clone(), **kwargs)
    if not isinstance(fig, Figure):
        raise StudentFailure(f"plot_fit returned {type(fig).__name__}, expected a matplotlib Figure")
    image = io.BytesIO()
    if png:
        with contextlib.suppress(Exception):
            fig.savefig(image, format="png", dpi=72)
    data = _artist_data(fig)
    # None, not b"", when not rendered (or savefig failed).
    data["png"] = image.getvalue() or None
    if "matplotlib.pyplot" in sys.modules:  # pyplot keeps every figure it made alive until closed
        with contextlib.suppress(Exception):
            sys.modules["matplotlib.pyplot"].close(fig)
    return data
