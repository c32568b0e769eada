"""The form of each probe's answer, checked on the trusted side before any grader reads it.

A hand-in can replace the probes in its own process and send back any plain data. An answer of the wrong form
(a string where a tensor belongs, a key missing or added, a list for a tuple) is the student's failure, said
once, never a grader that raises on it and reports the course as broken. The values themselves (a tensor's
dtype and shape, a number's size) stay the graders' to judge: they have the hint for each.

Strict: no coercion, exact keys, tuples stay tuples. Tensors are accepted as they come off the wire (dense CPU
tensors of a real dtype, coursekit.sandbox.wire).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, InstanceOf, StrictBool, StrictBytes, StrictFloat, StrictInt, StrictStr, TypeAdapter
from pydantic import ValidationError as _ValidationError
from torch import Tensor
from typing_extensions import TypedDict

_STRICT = ConfigDict(strict=True, extra="forbid")
AnyTensor = InstanceOf[Tensor]
Number = StrictInt | StrictFloat


class _Call(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    result: Any


class _ValueAndGrad(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    value: AnyTensor
    grad: AnyTensor | None
    requires_grad: StrictBool
    ops: list[StrictStr]


class _ModelStructure(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    children: list[tuple[StrictStr, StrictStr]]
    parameters: list[tuple[StrictStr, tuple[StrictInt, ...], StrictBool]]
    state: dict[StrictStr, AnyTensor]
    overrides_call: StrictBool


class _ModelForward(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    output: AnyTensor
    grads: dict[StrictStr, AnyTensor | None]
    activation_output: AnyTensor | None


class _CountParameters(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    count: Number
    type: StrictStr


class _Split(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    train: AnyTensor
    val: AnyTensor


class _SplitFailure(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    failure: StrictStr


class _SplitIndices(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    results: list[_Split | _SplitFailure]


class _TrainingLoop(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    state: dict[StrictStr, AnyTensor]
    history: dict[StrictStr, list[Number | StrictStr] | StrictStr] | StrictStr
    forward_calls: list[tuple[StrictInt, StrictBool]]


class _Line(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    x: AnyTensor
    y: AnyTensor
    linestyle: StrictStr
    marker: StrictStr


class _Points(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    x: AnyTensor
    y: AnyTensor


class _Axes(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    xlabel: StrictStr
    ylabel: StrictStr
    lines: list[_Line]
    points: list[_Points]


class _PlotFit(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    axes: list[_Axes]
    png: StrictBytes | None


ANSWERS: dict[str, TypeAdapter[Any]] = {
    "call": TypeAdapter(_Call),
    "value_and_grad": TypeAdapter(_ValueAndGrad),
    "model_structure": TypeAdapter(_ModelStructure),
    "model_forward": TypeAdapter(_ModelForward),
    "count_parameters": TypeAdapter(_CountParameters),
    "split_indices": TypeAdapter(_SplitIndices),
    "training_loop": TypeAdapter(_TrainingLoop),
    "plot_fit": TypeAdapter(_PlotFit),
}


class MalformedAnswer(ValueError):
    """An answer not of its probe's form; the message says where, briefly."""


def check_answer(probe: str, answer: dict[str, Any]) -> dict[str, Any]:
    """`answer` as the graders may read it, or MalformedAnswer naming the first place it is off."""
    adapter = ANSWERS.get(probe)
    if adapter is None:
        raise MalformedAnswer(f"no answer form is known for the probe {probe!r}")
    try:
        adapter.validate_python(answer)
    except _ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise MalformedAnswer(f"{where}: {first['msg']}") from None
    return answer
