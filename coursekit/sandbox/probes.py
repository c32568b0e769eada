"""The worker side of the trust boundary: run the student's code on inputs the grader chose.

Everything here runs in the process that imports the student's modules, so nothing here decides a
score. A probe takes plain data (decoded by coursekit.sandbox.wire), calls the student's code, and
returns plain data; the grader in the trusted process judges it. A probe never holds a reference
solution: the models it builds are generic `nn.Sequential` stacks, so a hand-in cannot borrow them.

The student's modules are imported from the hand-in folder under their contract names
(`activations`, `model`, `training`), so `from activations import tanh` inside `model.py` works.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import linecache
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from coursekit.sandbox import wire

RANDOM_STATE_SEED = 0x5EEDC0DE
STUDENT_MODULES = ("activations", "model", "training", "temperature_data")


class StudentFailure(Exception):
    """The student's code raised, or returned something the contract rules out; `message` is for the student."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def describe_exception(error: BaseException, handin_dir: Path) -> str:
    """'training.py, line 42, in training_loop: ZeroDivisionError: division by zero' (student frames only)."""
    if isinstance(error, SyntaxError) and error.filename and Path(error.filename).parent == handin_dir:
        return f"{Path(error.filename).name}: SyntaxError at line {error.lineno}: {error.msg}"
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        if path.parent == handin_dir:
            where = f"{path.name}, line {frame.lineno}, in {frame.name}: "
    text = str(error).strip()
    if isinstance(error, NotImplementedError) and text:
        return f"{where}{text}"
    return f"{where}{type(error).__name__}" + (f": {text[:500]}" if text else "")


class Handin:
    """The student's modules, imported from one hand-in folder on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._modules: dict[str, ModuleType] = {}

    def module(self, name: str) -> ModuleType:
        if name not in self._modules:
            path = self.directory / f"{name}.py"
            if not path.is_file():
                raise StudentFailure(f"{name}.py was not handed in")
            for stale in STUDENT_MODULES:
                if stale not in self._modules:
                    sys.modules.pop(stale, None)
            if str(self.directory) not in sys.path:
                sys.path.insert(0, str(self.directory))
            linecache.checkcache()
            importlib.invalidate_caches()
            try:
                with _quiet():
                    self._modules[name] = importlib.import_module(name)
            except BaseException as error:  # SystemExit, KeyboardInterrupt at import count too
                raise StudentFailure(
                    f"{name}.py could not be imported: {describe_exception(error, self.directory)}"
                ) from None
        return self._modules[name]

    def function(self, qualified_name: str) -> Callable[..., Any]:
        module_name, _, name = qualified_name.partition(".")
        module = self.module(module_name)
        value = getattr(module, name, None)
        if value is None:
            raise StudentFailure(f"{module_name}.py does not define {name}")
        if not callable(value):
            raise StudentFailure(f"{module_name}.{name} is not callable")
        return value


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Student prints go to the worker's own stdout, never into the results channel."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _call(handin: Handin, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        with _quiet():
            return function(*args, **kwargs)
    except BaseException as error:  # the student's SystemExit or KeyboardInterrupt is a failure, not an exit
        raise StudentFailure(describe_exception(error, handin.directory)) from None


def _plain_tensor(value: Any, what: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise StudentFailure(f"{what} returned {type(value).__name__}, expected a torch.Tensor")
    if value.layout is not torch.strided:
        raise StudentFailure(f"{what} returned a {value.layout} tensor, expected a dense one")
    # Strip any subclass: only the numbers cross the boundary.
    return value.detach().as_subclass(Tensor).clone()


class OpRecorder(TorchDispatchMode):
    """Records the ATen operators the student's function runs (e.g. 'aten::tanh')."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops.add(str(func._schema.name))
        return func(*args, **(kwargs or {}))


# --- probes: name -> function(handin, **arguments) -> plain data --------------------------------------------


def probe_call(handin: Handin, *, function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call a contract function with plain arguments; return its result if it is plain data."""
    result = _call(handin, handin.function(function), *args, **kwargs)
    if isinstance(result, Tensor):
        result = _plain_tensor(result, function)
    elif isinstance(result, tuple | list):
        result = type(result)(_plain_tensor(r, function) if isinstance(r, Tensor) else r for r in result)
    return {"result": result}


def probe_value_and_grad(
    handin: Handin,
    *,
    function: str,
    x: Tensor,
    kwargs: dict[str, Any],
    grad_output: Tensor | None,
) -> dict[str, Any]:
    """f(x, **kwargs), the vector-Jacobian product with grad_output, and the ATen ops f ran."""
    f = handin.function(function)
    x = x.clone().requires_grad_(grad_output is not None)
    recorder = OpRecorder()
    with recorder:
        value = _call(handin, f, x, **kwargs)
    value = value if isinstance(value, Tensor) else _plain_tensor(value, function)
    grad: Tensor | None = None
    if grad_output is not None and value.requires_grad and value.shape == grad_output.shape:
        (g,) = _call(handin, torch.autograd.grad, value, x, grad_output, allow_unused=True)
        grad = None if g is None else _plain_tensor(g, f"the gradient of {function}")
    return {
        "value": _plain_tensor(value, function),
        "grad": grad,
        "requires_grad": bool(value.requires_grad),
        "ops": sorted(recorder.ops),
    }


def _state_of(module: nn.Module) -> dict[str, Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def probe_model_structure(handin: Handin, *, n_hidden: int | None) -> dict[str, Any]:
    """Build TemperatureNet(n_hidden) (or with its default) and describe what it registered."""
    cls = handin.function("model.TemperatureNet")
    model = _call(handin, cls) if n_hidden is None else _call(handin, cls, n_hidden)
    if not isinstance(model, nn.Module):
        raise StudentFailure(f"TemperatureNet() built a {type(model).__name__}, not an nn.Module")
    return {
        "children": [(name, type(child).__name__) for name, child in model.named_children()],
        "parameters": [(name, tuple(p.shape), bool(p.requires_grad)) for name, p in model.named_parameters()],
        "state": _state_of(model),
        "overrides_call": "__call__" in vars(type(model)) or type(model).__call__ is not nn.Module.__call__,
    }


def probe_model_forward(
    handin: Handin,
    *,
    n_hidden: int | None,
    state: dict[str, Tensor],
    x: Tensor,
    hook_offset: float,
    grad_output: Tensor,
    activation_input: Tensor,
) -> dict[str, Any]:
    """Build TemperatureNet(n_hidden) (None: with its default), load the grader's weights, call the model with a
    forward hook that adds `hook_offset`, backpropagate.

    The hook is the grader's witness that the module was called through nn.Module.__call__: if hooks
    are skipped, the offset is missing from the output the grader receives.
    """
    cls = handin.function("model.TemperatureNet")
    model = _call(handin, cls) if n_hidden is None else _call(handin, cls, n_hidden)
    if not isinstance(model, nn.Module):
        built = f"TemperatureNet({'' if n_hidden is None else n_hidden})"
        raise StudentFailure(f"{built} built a {type(model).__name__}, not an nn.Module")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError) as error:
        raise StudentFailure(f"TemperatureNet's parameters do not match the contract: {error}") from None
    model.register_forward_hook(lambda _module, _inputs, output: output + hook_offset)
    output = _call(handin, model, x)
    output_tensor = _plain_tensor(output, "TemperatureNet.forward")
    grads: dict[str, Tensor | None] = {}
    if isinstance(output, Tensor) and output.requires_grad and output.shape == grad_output.shape:
        _call(handin, output.backward, grad_output)
        for name, parameter in model.named_parameters():
            grads[name] = None if parameter.grad is None else parameter.grad.detach().clone()
    activation = getattr(model, "hidden_activation", None)
    activation_output = None
    if isinstance(activation, nn.Module):
        with torch.no_grad():
            activation_output = _plain_tensor(_call(handin, activation, activation_input), "hidden_activation")
    return {"output": output_tensor, "grads": grads, "activation_output": activation_output}


def sequential_from_layers(layers: list[tuple[str, list[int]]]) -> nn.Sequential:
    """A generic stack from the grader's description: ("linear", [in, out]) or ("tanh", [])."""
    modules: list[nn.Module] = []
    for kind, sizes in layers:
        if kind == "linear":
            modules.append(nn.Linear(sizes[0], sizes[1], bias=bool(sizes[2]) if len(sizes) > 2 else True))
        elif kind == "tanh":
            modules.append(nn.Tanh())
        elif kind == "conv1d":
            modules.append(nn.Conv1d(sizes[0], sizes[1], sizes[2]))
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
    return nn.Sequential(*modules)


def probe_count_parameters(handin: Handin, *, layers: list[tuple[str, list[int]]], frozen: list[str]) -> dict[str, Any]:
    """count_parameters on a model the grader described, with some parameters frozen."""
    model = sequential_from_layers(layers)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name not in frozen)
    result = _call(handin, handin.function("model.count_parameters"), model)
    returned = type(result).__name__  # before a one-element tensor becomes a number
    if isinstance(result, Tensor) and result.numel() == 1:
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise StudentFailure(f"count_parameters returned {type(result).__name__}, expected an int")
    return {"count": result, "type": returned}


def probe_split_indices(handin: Handin, *, cases: list[tuple[int, float | None, int | None]]) -> dict[str, Any]:
    """split_indices(n_samples[, val_fraction][, generator=torch.Generator().manual_seed(seed)]) per case.

    A generator cannot cross the boundary, so the worker builds it from the grader's seed. Each case
    answers on its own ({"train", "val"} or {"failure"}), so one failing case costs only its own checks.
    """
    function = handin.function("training.split_indices")
    results: list[dict[str, Any]] = []
    for n_samples, val_fraction, seed in cases:
        kwargs: dict[str, Any] = {}
        if val_fraction is not None:
            kwargs["val_fraction"] = val_fraction
        if seed is not None:
            kwargs["generator"] = torch.Generator().manual_seed(seed)
        try:
            result = _call(handin, function, n_samples, **kwargs)
            if not isinstance(result, tuple | list) or len(result) != 2:
                raise StudentFailure(
                    f"split_indices returned {type(result).__name__}, expected a tuple (train_indices, val_indices)"
                )
            train, val = (_plain_tensor(part, "split_indices") for part in result)
            results.append({"train": train, "val": val})
        except StudentFailure as failure:
            results.append({"failure": failure.message})
    return {"results": results}


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

    Returns the final weights (which the grader replays and judges), the history as returned,
    and, per forward call of the model, the number of rows and whether grad mode was on.
    """
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
    history = _call(
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
    return {"state": _state_of(model), "history": plain_history, "forward_calls": calls}


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

    Rendering the PNG costs more than the rest of the call, so graders that only judge the data skip it.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    model = sequential_from_layers(layers)
    model.load_state_dict(state)
    kwargs = {} if scale is None else {"scale": scale}
    fig = _call(handin, handin.function("training.plot_fit"), model, t_u.clone(), t_c.clone(), **kwargs)
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


PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    "call": probe_call,
    "value_and_grad": probe_value_and_grad,
    "model_structure": probe_model_structure,
    "model_forward": probe_model_forward,
    "count_parameters": probe_count_parameters,
    "split_indices": probe_split_indices,
    "training_loop": probe_training_loop,
    "plot_fit": probe_plot_fit,
}


def _reset_random_state() -> None:
    """Every call starts from the same global random state, so code that draws from it (a split that ignores
    its generator) gets the same points in any process, whatever ran before it."""
    import random

    import numpy

    # Not a seed a grader uses for its own generators: code that ignores its generator must not match by luck.
    torch.manual_seed(RANDOM_STATE_SEED)
    random.seed(RANDOM_STATE_SEED)
    numpy.random.seed(RANDOM_STATE_SEED)


def handle_request(handin: Handin, request: bytes) -> bytes:
    """Answer one encoded {"probe": name, "arguments": {...}} with an encoded result.

    The answer is {"ok": data} or {"failure": message}; data the wire cannot carry (a sparse tensor, a string of
    megabytes) becomes the student's failure here, with the wire's reason.
    """
    try:
        message = wire.decode(request)
        probe = PROBES[message["probe"]]
        _reset_random_state()
        answer = {"ok": probe(handin, **message["arguments"])}
        return wire.encode(answer)  # looked up after the student's code ran, which may have replaced it
    except StudentFailure as failure:
        return wire.encode({"failure": wire.fit_text(failure.message)})
    except BaseException as error:  # a probe must answer, whatever the student's code did
        return wire.encode({"failure": wire.fit_text(describe_exception(error, handin.directory))})
