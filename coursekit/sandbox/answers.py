"""The form of each probe's answer, checked on the trusted side before any grader reads it.

A hand-in can replace the probes in its own process and send back any plain data. An answer of the wrong form
(a string where a tensor belongs, a key missing or added, a list for a tuple) is the student's failure, said
once, never a grader that raises on it and reports the course as broken. The values themselves (a tensor's
dtype and shape, a number's size) stay the graders' to judge: they have the hint for each.

Each probe's form is the one it was registered with (coursekit.sandbox.probes.probe: the kit's own probes, and
the course's, loaded with `load_course_probes`). Strict: no coercion, exact keys, tuples stay tuples. Tensors
are accepted as they come off the wire (dense CPU tensors of a real dtype, coursekit.sandbox.wire).
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as _ValidationError

from coursekit.sandbox.probes import REGISTERED


class MalformedAnswer(ValueError):
    """An answer not of its probe's form; the message says where, briefly."""


@functools.cache
def _adapter(form: type) -> TypeAdapter[Any]:
    return TypeAdapter(form)


def check_answer(probe: str, answer: dict[str, Any]) -> dict[str, Any]:
    """`answer` as the graders may read it, or MalformedAnswer naming the first place it is off."""
    registration = REGISTERED.get(probe)
    if registration is None:
        raise MalformedAnswer(f"no answer form is known for the probe {probe!r}")
    try:
        _adapter(registration.answer).validate_python(answer)
    except _ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        raise MalformedAnswer(f"{where}: {first['msg']}") from None
    return answer
