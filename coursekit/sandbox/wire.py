"""Plain data across the trust boundary: None, bools, numbers, strings, bytes, lists, tuples, dicts and tensors.

A message is a small JSON header describing the value tree, followed by the raw bytes of its tensors and
byte strings:

    b"CKW" | version (1 byte) | header length (uint32, little-endian) | header (UTF-8 JSON) | blobs

In the header, null, true, false, numbers (NaN and Infinity included), strings and arrays stand for
None, bool, int/float, str and list. Every other type is a JSON object with exactly one key, its tag:
``{"t": [items]}`` a tuple, ``{"d": [key, value, key, value, ...]}`` a dict, ``{"b": length}`` bytes,
``{"T": [dtype, shape]}`` a dense tensor. A student's dict is always a "d" list, never a JSON object,
so none of its keys can pass for a tag. Blobs follow the header in the order their nodes appear in
it, each exactly numel × itemsize (or length) bytes, little-endian, and nothing follows the last one.

Decoding never unpickles anything: a hand-in can replace the encoder in its own process, so `decode`
treats its input as arbitrary bytes. Its work and memory are bounded by the limits below, by
construction: no compression, no sharing between nodes (JSON cannot express it), no strides (a
tensor is its bytes), and every size is checked against the bytes actually present before anything is
allocated. Every failure is a `WireError` with a short message that echoes none of the data.
"""

from __future__ import annotations

import collections
import functools
import json
import struct
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# torch and numpy are imported on first use, so that the worker pool can start its sandboxes (which import
# torch themselves) before the grading process has paid for its own import.

VERSION = 1
PREFIX = struct.Struct("<3sBI")
MAGIC = b"CKW"

# The bundled course's largest answers, a figure's description with its PNG and a training run's record, are
# about 15 KB each (the figure's was 23 KB as a torch.save record). 16 MiB leaves a thousandfold margin for bigger
# inputs a grader may send, while a decoded value costs at most about as much memory again as its message.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# The bundled course's largest header is a training run's record, 14 KB for 400 forward calls; a loop that runs
# the network once per sample makes 8,000 (128 KB). Parsing JSON costs up to 30 bytes of memory per header byte.
MAX_HEADER_BYTES = 512 * 1024
# Values in one message: the bundled course's largest answer (200 epochs of history and forward calls) holds
# 1,600; the per-sample loop above 24,400.
MAX_NODES = 100_000
# Containers inside containers: the bundled course's deepest answer (a figure's axes, lines, series) nests 6 deep.
MAX_DEPTH = 32
# Failure messages, labels, operator and type names: a few lines of text, never a file's worth.
MAX_STRING_CHARS = 4096
# Tensors and byte strings in one message: a figure with a few hundred plotted series needs a few hundred.
MAX_BLOBS = 4096
# Dimensions of one tensor: the graders use up to 3 (a conv1d weight).
MAX_TENSOR_DIMS = 8
# Elements of one tensor: as many as a message can hold at one byte each; it also bounds the sizes of empty tensors.
MAX_TENSOR_NUMEL = MAX_MESSAGE_BYTES
# Python ints: counts, sizes and seeds all fit in 64 bits.
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1

# The dtypes the graders use, by their wire names. Complex, quantized and the bit-packed dtypes cannot cross.
DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool")


class WireError(ValueError):
    """The value cannot cross the wire, or the bytes are not a message within its limits."""


@functools.cache
def _dtypes() -> dict[str, torch.dtype]:
    import torch

    return {name: getattr(torch, name) for name in DTYPE_NAMES}


def _check_byte_order() -> None:
    if sys.byteorder != "little":
        raise WireError("the wire stores tensors little-endian; this host is big-endian")


def fit_text(text: str, limit: int = MAX_STRING_CHARS) -> str:
    """`text` as a message can carry it: at most `limit` characters (saying so when cut), valid UTF-8."""
    if len(text) > limit:
        marker = " … (cut)"
        text = text[: limit - len(marker)] + marker
    if not text.isascii():
        text = text.encode(errors="replace").decode()
    return text


# --- encoding -----------------------------------------------------------------------------------------------


class _Encoder:
    def __init__(self) -> None:
        self.nodes = 0
        self.blobs: list[Any] = []  # bytes or numpy arrays, in header order
        self.blob_bytes = 0

    def items(self, values: Any, depth: int) -> list[Any]:
        """The header nodes of `values`, which sit `depth` deep; scalars are handled inline, as they are most."""
        self.nodes += len(values)
        if self.nodes > MAX_NODES:
            raise WireError(f"more than {MAX_NODES} values")
        if values and depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} deep")
        nodes = []
        for value in values:
            kind = type(value)
            if kind is float or kind is bool or value is None:
                nodes.append(value)
            elif kind is int:
                if not MIN_INT <= value <= MAX_INT:
                    raise WireError("an int outside the 64-bit range")
                nodes.append(value)
            elif kind is str:
                if len(value) > MAX_STRING_CHARS:
                    raise WireError(f"a string of {len(value)} characters, more than {MAX_STRING_CHARS}")
                nodes.append(value)
            else:
                nodes.append(self.compound(value, depth))
        return nodes

    def compound(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is list:
            return self.items(value, depth + 1)
        if kind is tuple:
            return {"t": self.items(value, depth + 1)}
        if kind is dict or kind is collections.OrderedDict:  # state_dict() is an OrderedDict
            if self.nodes + 2 * len(value) > MAX_NODES:  # before flattening a dict of millions
                raise WireError(f"more than {MAX_NODES} values")
            flat = self.items([entry for pair in value.items() for entry in pair], depth + 1)
            for key in value:  # after encoding, so that _is_key only meets a bounded depth
                if not _is_key(key):
                    raise WireError(f"a dict key of type {type(key).__name__}")
            return {"d": flat}
        if kind is bytes:
            self._add_blob(value, len(value))
            return {"b": len(value)}
        import torch

        if isinstance(value, torch.Tensor):
            return self._tensor(value)
        raise WireError(f"a {kind.__name__} cannot cross the wire")

    def _add_blob(self, blob: Any, size: int) -> None:
        if len(self.blobs) >= MAX_BLOBS:
            raise WireError(f"more than {MAX_BLOBS} tensors and byte strings")
        self.blob_bytes += size
        if self.blob_bytes > MAX_MESSAGE_BYTES:
            raise WireError(f"more than {MAX_MESSAGE_BYTES} bytes of tensors and byte strings")
        self.blobs.append(blob)

    def _tensor(self, value: torch.Tensor) -> Any:
        import torch

        if value.layout is not torch.strided:
            raise WireError(f"a {value.layout} tensor: only dense tensors cross the wire (use .to_dense())")
        if value.is_meta:
            raise WireError("a meta tensor has no values to send")
        name = str(value.dtype).removeprefix("torch.")
        if name not in DTYPE_NAMES:
            raise WireError(f"a {name} tensor: the wire carries {', '.join(DTYPE_NAMES)}")
        if value.dim() > MAX_TENSOR_DIMS:
            raise WireError(f"a tensor of {value.dim()} dimensions, more than {MAX_TENSOR_DIMS}")
        # Checked before materialising, so an expanded tensor is refused without allocating its elements.
        if value.numel() > MAX_TENSOR_NUMEL:
            raise WireError(f"a tensor of {value.numel()} elements, more than {MAX_TENSOR_NUMEL}")
        _check_byte_order()
        try:
            dense = value.detach().cpu().resolve_conj().resolve_neg().contiguous()
            raw = dense.reshape(-1).view(torch.uint8).numpy()
        except RuntimeError as error:  # e.g. a functional or fake tensor with no storage of its own
            raise WireError(f"a tensor whose values cannot be read ({type(error).__name__})") from None
        self._add_blob(raw, raw.nbytes)
        return {"T": [name, list(dense.shape)]}


def _is_key(key: Any) -> bool:
    """Dict keys are scalars, strings, bytes or tuples of them: values that compare by content."""
    kind = type(key)
    if key is None or kind in (bool, int, float, str, bytes):
        return True
    return kind is tuple and all(_is_key(item) for item in key)


def encode(value: Any) -> bytes:
    """The message for `value`: a dense, contiguous copy of every tensor; WireError for anything else."""
    encoder = _Encoder()
    (tree,) = encoder.items([value], 0)
    try:
        header = json.dumps(tree, ensure_ascii=False, separators=(",", ":"), check_circular=False).encode()
    except UnicodeEncodeError:
        raise WireError("a string that is not valid Unicode (a lone surrogate)") from None
    if len(header) > MAX_HEADER_BYTES:
        raise WireError(f"a header of {len(header)} bytes, more than {MAX_HEADER_BYTES}")
    size = PREFIX.size + len(header) + encoder.blob_bytes
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"a message of {size} bytes, more than {MAX_MESSAGE_BYTES}")
    return b"".join([PREFIX.pack(MAGIC, VERSION, len(header)), header, *encoder.blobs])


# --- decoding -----------------------------------------------------------------------------------------------


class _Decoder:
    def __init__(self, data: bytes | bytearray, offset: int) -> None:
        self.data = data
        self.offset = offset  # where the next blob starts
        self.nodes = 0
        self.blobs = 0

    def items(self, nodes: list[Any], depth: int) -> list[Any]:
        """The values of header `nodes`, which sit `depth` deep, decoded in place (json.loads made the list)."""
        self.nodes += len(nodes)
        if self.nodes > MAX_NODES:
            raise WireError(f"more than {MAX_NODES} values")
        if nodes and depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} deep")
        for at, node in enumerate(nodes):
            kind = type(node)
            if kind is float or kind is bool or node is None:
                continue
            if kind is int:
                if not MIN_INT <= node <= MAX_INT:
                    raise WireError("an int outside the 64-bit range")
            elif kind is str:
                _check_string(node)
            else:
                nodes[at] = self.compound(node, depth)
        return nodes

    def compound(self, node: Any, depth: int) -> Any:
        if type(node) is list:
            return self.items(node, depth + 1)
        if type(node) is not dict or len(node) != 1:
            raise WireError("a malformed node")
        ((tag, body),) = node.items()
        if tag == "t" and type(body) is list:
            return tuple(self.items(body, depth + 1))
        if tag == "d" and type(body) is list and len(body) % 2 == 0:
            return self._dict(self.items(body, depth + 1))
        if tag == "b":
            return self._bytes(body)
        if tag == "T" and type(body) is list and len(body) == 2:
            return self._tensor(*body)
        raise WireError("a malformed node")

    @staticmethod
    def _dict(flat: list[Any]) -> dict[Any, Any]:
        keys = flat[0::2]
        for key in keys:
            if not _is_key(key):
                raise WireError(f"a dict key of type {type(key).__name__}")
        result = dict(zip(keys, flat[1::2], strict=True))
        if len(result) != len(keys):
            raise WireError("a dict with a repeated key")
        return result

    def _take(self, size: int) -> int:
        """Reserve the next `size` bytes of blobs; return where they start."""
        self.blobs += 1
        if self.blobs > MAX_BLOBS:
            raise WireError(f"more than {MAX_BLOBS} tensors and byte strings")
        start = self.offset
        if size > len(self.data) - start:
            raise WireError("a tensor or byte string runs past the end of the message")
        self.offset = start + size
        return start

    def _bytes(self, length: Any) -> bytes:
        if type(length) is not int or length < 0:
            raise WireError("a malformed byte string")
        start = self._take(length)
        return bytes(self.data[start : start + length])

    def _tensor(self, name: Any, shape: Any) -> torch.Tensor:
        import numpy
        import torch

        dtype = _dtypes().get(name) if type(name) is str else None
        if dtype is None:
            raise WireError("a tensor of a dtype the wire does not carry")
        if type(shape) is not list or len(shape) > MAX_TENSOR_DIMS:
            raise WireError("a malformed tensor shape")
        numel = 1
        for size in shape:
            if type(size) is not int or size < 0:
                raise WireError("a malformed tensor shape")
            if size > MAX_TENSOR_NUMEL:
                raise WireError(f"a tensor dimension larger than {MAX_TENSOR_NUMEL}")
            numel *= size
        if numel > MAX_TENSOR_NUMEL:
            raise WireError(f"a tensor of more than {MAX_TENSOR_NUMEL} elements")
        itemsize = dtype.itemsize
        start = self._take(numel * itemsize)
        # A fresh allocation per tensor: writable, owning its memory, sharing it with nothing.
        raw = torch.empty(numel * itemsize, dtype=torch.uint8)
        if numel:
            raw.numpy()[:] = numpy.frombuffer(self.data, dtype=numpy.uint8, count=numel * itemsize, offset=start)
            if dtype is torch.bool and int(raw.max()) > 1:
                raise WireError("a bool tensor holding bytes other than 0 and 1")
        return raw.view(dtype).view(shape)


def _check_string(text: str) -> None:
    if len(text) > MAX_STRING_CHARS:
        raise WireError(f"a string of more than {MAX_STRING_CHARS} characters")
    if not text.isascii():
        try:  # a lone surrogate, written as an escape, would break every file the string later reaches
            text.encode()
        except UnicodeEncodeError:
            raise WireError("a string that is not valid Unicode") from None


def decode(data: bytes | bytearray) -> Any:
    """The value in a message; WireError for any bytes that are not a message within the limits."""
    if type(data) not in (bytes, bytearray):
        raise WireError(f"a message is bytes, not {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"a message of {len(data)} bytes, more than {MAX_MESSAGE_BYTES}")
    if len(data) < PREFIX.size:
        raise WireError("not a coursekit wire message (too short)")
    magic, version, header_size = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise WireError("not a coursekit wire message")
    if version != VERSION:
        raise WireError(f"wire version {version}, expected {VERSION}")
    if header_size > MAX_HEADER_BYTES or header_size > len(data) - PREFIX.size:
        raise WireError("a header larger than the limit or than the message")
    _check_byte_order()
    blobs_start = PREFIX.size + header_size
    try:
        tree = json.loads(data[PREFIX.size : blobs_start].decode())
        decoder = _Decoder(data, blobs_start)
        (value,) = decoder.items([tree], 0)
    except WireError:
        raise
    except UnicodeDecodeError:
        raise WireError("a header that is not UTF-8") from None
    except json.JSONDecodeError:
        raise WireError("a header that is not JSON") from None
    except RecursionError:
        raise WireError("a header nested too deeply") from None
    except Exception as error:  # whatever else hostile bytes provoke (an int of 5,000 digits, memory), never raw
        raise WireError(f"a malformed message ({type(error).__name__})") from None
    if decoder.offset != len(data):
        raise WireError("bytes after the last tensor or byte string")
    return value
