"""Plain data across the trust boundary: tensors, numbers, strings, bytes, lists, tuples and dicts.

Both directions use `torch.save`; the reading side always uses `torch.load(weights_only=True)`, which
refuses any class but tensors and Python's plain containers, so a hand-in cannot smuggle an object
whose methods run on the trusted side (a tensor subclass whose `==` is always true, a pickled callable).
"""

from __future__ import annotations

import collections
import io
from typing import Any

# torch is imported on first use, so that the worker pool can start its sandboxes (which import torch
# themselves) before the grading process has paid for its own import.

# A results message larger than this is refused rather than unpickled.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class WireError(ValueError):
    """The bytes are not plain data."""


def encode(value: Any) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def decode(data: bytes) -> Any:
    import torch

    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        value = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as error:  # any failure to unpickle means the data was not plain
        raise WireError(f"not plain data: {type(error).__name__}: {str(error)[:200]}") from None
    return _check_plain(value)


def _check_plain(value: Any, depth: int = 0) -> Any:
    """Re-check the types after loading: exact builtins and exact `torch.Tensor` only."""
    import torch

    if depth > 32:
        raise WireError("nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes):
        return value
    if kind is torch.Tensor:
        return value
    if kind in (list, tuple):
        return kind(_check_plain(item, depth + 1) for item in value)
    if kind in (dict, collections.OrderedDict):  # state_dict() is an OrderedDict
        return {_check_plain(k, depth + 1): _check_plain(v, depth + 1) for k, v in value.items()}
    raise WireError(f"unexpected type {kind.__name__}")
