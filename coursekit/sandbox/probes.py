"""The worker side of the trust boundary: run the student's code on inputs the grader chose.

Everything here runs in the process that imports the student's modules, so nothing here decides a
score. A probe takes plain data (decoded by coursekit.sandbox.wire), calls the student's code, and
returns plain data; the grader in the trusted process judges it. A probe never holds a reference
solution: the models it builds are generic `nn.Sequential` stacks, so a hand-in cannot borrow them.

The kit's own probes, `call`, `value_and_grad` and `value_and_grad_calls` (many calls in one request), work
for any contract function. A course registers its chapter's probes with `@probe` in the file course.yml names
as `chapter.probes` (loaded by `load_course_probes`), each with its answer's form, which the trusted side checks
before any grader reads an answer (coursekit.sandbox.answers).

The student's modules are imported from the hand-in folder under their file names (`ops.py` as `ops`), so
`from ops import square` inside another of their modules works.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import linecache
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from pydantic import ConfigDict, InstanceOf, StrictBool, StrictStr
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from typing_extensions import TypedDict

from coursekit.errors import CoursekitError
from coursekit.sandbox import wire

RANDOM_STATE_SEED = 0x5EEDC0DE
# The module name a course's probes file is imported under.
COURSE_PROBES_MODULE = "course_probes"
# Every answer form's pydantic configuration: no coercion, exact keys, tuples stay tuples.
STRICT_ANSWER = ConfigDict(strict=True, extra="forbid")
# A tensor as it comes off the wire (dense, CPU, a real dtype: coursekit.sandbox.wire).
AnyTensor = InstanceOf[Tensor]


class StudentFailure(Exception):
    """The student's code raised, or returned something the contract rules out; `message` is for the student."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def describe_exception(error: BaseException, handin_dir: Path) -> str:
    """'ops.py, line 42, in square: ZeroDivisionError: division by zero' (student frames only)."""
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
            # A module of the same name imported from elsewhere (another hand-in graded in this process) must
            # not stand in for this hand-in's.
            for stale in sorted(file.stem for file in self.directory.glob("*.py")):
                if stale not in self._modules:
                    sys.modules.pop(stale, None)
            if sys.path[:1] != [str(self.directory)]:  # first, before a folder of another hand-in
                with contextlib.suppress(ValueError):
                    sys.path.remove(str(self.directory))
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


def call_student(handin: Handin, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)`, its prints kept out of the results channel; whatever it raises is a
    StudentFailure naming the student's line."""
    try:
        with _quiet():
            return function(*args, **kwargs)
    except BaseException as error:  # the student's SystemExit or KeyboardInterrupt is a failure, not an exit
        raise StudentFailure(describe_exception(error, handin.directory)) from None


def plain_tensor(value: Any, what: str) -> Tensor:
    """`value` as a plain dense tensor of its own (no subclass, no shared storage), or a StudentFailure."""
    if not isinstance(value, Tensor):
        raise StudentFailure(f"{what} returned {type(value).__name__}, expected a torch.Tensor")
    if value.layout is not torch.strided:
        raise StudentFailure(f"{what} returned a {value.layout} tensor, expected a dense one")
    # Strip any subclass: only the numbers cross the boundary.
    return value.detach().as_subclass(Tensor).clone()


class OpRecorder(TorchDispatchMode):
    """Records the ATen operators the student's function runs (e.g. 'aten::exp')."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops.add(str(func._schema.name))
        return func(*args, **(kwargs or {}))


# torch.nn's layers by lower-case class name: "linear", "conv1d", "gelu".
_LAYERS: dict[str, type[nn.Module]] = {
    name.lower(): value for name, value in vars(nn).items() if isinstance(value, type) and issubclass(value, nn.Module)
}


def sequential_from_layers(layers: list[tuple[str, list[int]]]) -> nn.Sequential:
    """A generic stack from the grader's description: torch.nn layers by lower-case name with their positional
    arguments, e.g. [("linear", [1, 8]), ("gelu", []), ("linear", [8, 1, 0])] (a last 0: no bias)."""
    modules: list[nn.Module] = []
    for kind, sizes in layers:
        layer = _LAYERS.get(kind)
        if layer is None:
            raise ValueError(f"unknown layer kind {kind!r}")
        modules.append(layer(*sizes))
    return nn.Sequential(*modules)


# --- the registry: name -> function(handin, **arguments) -> plain data, with its answer's form ---------------


@dataclasses.dataclass(frozen=True)
class Registration:
    """What the trusted side knows of a probe: its answer's form, the student's function it calls (for messages
    such as "square did not return within 60 s"; None: the request's own `function` argument names it), and the
    file that registered it (None: the kit's own)."""

    answer: type
    function: str | None
    source: str | None


class ProbeRegistrationError(CoursekitError, ValueError):
    """A course's probes file registers a name twice, or cannot be imported."""


# What `handle_request` runs, by name. A hand-in may replace entries in its own process: nothing there decides.
PROBES: dict[str, Callable[..., dict[str, Any]]] = {}
# Each probe's registration, read on the trusted side (answer forms, function names).
REGISTERED: dict[str, Registration] = {}
# The course probes file registering now, if any (set by load_course_probes).
_loading: str | None = None


def probe(
    name: str, *, answer: type, function: str | None = None
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register `fn(handin, **arguments) -> dict` as the probe `name`, whose answers must have the form `answer`
    (a typing_extensions.TypedDict of pydantic Strict* types with ``__pydantic_config__ = STRICT_ANSWER``).

    `function`: the student's function it calls, for messages ("Net did not return within 60 s")."""

    def register(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        if name in REGISTERED:
            raise ProbeRegistrationError(f"the probe {name!r} is registered twice")
        REGISTERED[name] = Registration(answer=answer, function=function, source=_loading)
        PROBES[name] = fn
        return fn

    return register


def load_course_probes(path: Path) -> None:
    """Import a course's probes file (as module `course_probes`), which registers its probes; idempotent.

    Loading another course's file first removes the probes the previous one registered.
    """
    global _loading
    source = str(Path(path).resolve())
    loaded = sys.modules.get(COURSE_PROBES_MODULE)
    if loaded is not None and getattr(loaded, "__file__", None) == source:
        return
    for name in [name for name, registration in REGISTERED.items() if registration.source is not None]:
        del REGISTERED[name]
        PROBES.pop(name, None)
    sys.modules.pop(COURSE_PROBES_MODULE, None)
    spec = importlib.util.spec_from_file_location(COURSE_PROBES_MODULE, source)
    if spec is None or spec.loader is None:
        raise ProbeRegistrationError(f"{path} cannot be imported as a probes file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[COURSE_PROBES_MODULE] = module
    _loading = source
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(COURSE_PROBES_MODULE, None)
        for name in [name for name, registration in REGISTERED.items() if registration.source == source]:
            del REGISTERED[name]
            PROBES.pop(name, None)
        raise
    finally:
        _loading = None


class _Call(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    result: Any


@probe("call", answer=_Call)
def probe_call(handin: Handin, *, function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call a contract function with plain arguments; return its result if it is plain data."""
    result = call_student(handin, handin.function(function), *args, **kwargs)
    if isinstance(result, Tensor):
        result = plain_tensor(result, function)
    elif isinstance(result, tuple | list):
        result = type(result)(plain_tensor(r, function) if isinstance(r, Tensor) else r for r in result)
    return {"result": result}


class _ValueAndGrad(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    value: AnyTensor
    grad: AnyTensor | None
    requires_grad: StrictBool
    ops: list[StrictStr]


@probe("value_and_grad", answer=_ValueAndGrad)
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
        value = call_student(handin, f, x, **kwargs)
    value = value if isinstance(value, Tensor) else plain_tensor(value, function)
    grad: Tensor | None = None
    if grad_output is not None and value.requires_grad and value.shape == grad_output.shape:
        (g,) = call_student(handin, torch.autograd.grad, value, x, grad_output, allow_unused=True)
        grad = None if g is None else plain_tensor(g, f"the gradient of {function}")
    return {
        "value": plain_tensor(value, function),
        "grad": grad,
        "requires_grad": bool(value.requires_grad),
        "ops": sorted(recorder.ops),
    }


class Failed(TypedDict):
    """The answer form of one call that failed inside a batched request (a course's probes use it too)."""

    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    failure: StrictStr


class _ValueAndGradCalls(TypedDict):
    __pydantic_config__ = STRICT_ANSWER  # type: ignore[misc]
    answers: list[_ValueAndGrad | Failed]


@probe("value_and_grad_calls", answer=_ValueAndGradCalls)
def probe_value_and_grad_calls(handin: Handin, *, function: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """`value_and_grad` for each of `calls` (its x, kwargs and grad_output), answered in order in one request,
    which saves a round trip per call. Each call runs as a request of its own would, from the same random state;
    one that fails answers {"failure": message} in its place."""
    answers: list[dict[str, Any]] = []
    for call in calls:
        _reset_random_state()
        try:
            answers.append(PROBES["value_and_grad"](handin, function=function, **call))
        except StudentFailure as failure:
            answers.append({"failure": wire.fit_text(failure.message)})
        except BaseException as error:  # as handle_request answers for a request of its own
            answers.append({"failure": wire.fit_text(describe_exception(error, handin.directory))})
    return {"answers": answers}


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
        run = PROBES[message["probe"]]
        _reset_random_state()
        answer = {"ok": run(handin, **message["arguments"])}
        return wire.encode(answer)  # looked up after the student's code ran, which may have replaced it
    except StudentFailure as failure:
        return wire.encode({"failure": wire.fit_text(failure.message)})
    except BaseException as error:  # a probe must answer, whatever the student's code did
        return wire.encode({"failure": wire.fit_text(describe_exception(error, handin.directory))})
