"""The wire carries plain data both ways, and its decoder survives any bytes within bounded work and memory.

The student's process can replace the encoder, so every decoder test here writes hostile bytes by hand: the
red team's bombs (a deflated torch.save record, a shared list 28 deep, a stride-0 tensor of 1.2e9 elements,
48 MB strings, meta and sparse tensors) and, through hypothesis, generated and mutated messages. Each must
decode to plain data within the limits or raise WireError, quickly and without allocating what it claims.
"""

from __future__ import annotations

import collections
import gc
import io
import json
import math
import resource
import struct
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coursekit.sandbox import wire
from coursekit.sandbox.student import MAX_FAILURE_CHARS, InProcessStudent, StudentError, answer_of

DTYPES = [getattr(torch, name) for name in wire.DTYPE_NAMES]
# Generous for a loaded 2-core machine: a bounded refusal takes microseconds to milliseconds.
QUICK_SECONDS = 1.0
# Python-side memory a decode may use: the largest header parses to at most about 30 bytes per byte, and the
# values it describes take about 100 bytes each.
PYTHON_MEMORY_BYTES = 30 * wire.MAX_HEADER_BYTES + 100 * wire.MAX_NODES
HYPOTHESIS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def message(header: Any, blobs: bytes = b"", *, raw_header: bytes | None = None, version: int = wire.VERSION) -> bytes:
    """A message as a hostile encoder would write it: any header tree, any blob bytes."""
    text = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    return wire.PREFIX.pack(wire.MAGIC, version, len(text)) + text + blobs


def same(a: Any, b: Any) -> bool:
    """Equal in type and value, recursively; floats and tensors bit for bit (so nan == nan, -0.0 != 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, torch.Tensor):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and bytes(a.contiguous().reshape(-1).view(torch.uint8).numpy())
            == bytes(b.contiguous().reshape(-1).view(torch.uint8).numpy())
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(key_a, key_b) and same(value_a, value_b)
            for (key_a, value_a), (key_b, value_b) in zip(a.items(), b.items(), strict=True)
        )
    return bool(a == b)


def plain_within_limits(value: Any) -> bool:
    """What decode may return: exact plain types, dense writable CPU tensors, nothing beyond the limits."""
    budget = {"nodes": 0}

    def check(item: Any, depth: int) -> bool:
        budget["nodes"] += 1
        if budget["nodes"] > wire.MAX_NODES or depth > wire.MAX_DEPTH:
            return False
        kind = type(item)
        if item is None or kind in (bool, float, bytes):
            return True
        if kind is int:
            return wire.MIN_INT <= item <= wire.MAX_INT
        if kind is str:
            return len(item) <= wire.MAX_STRING_CHARS
        if kind in (list, tuple):
            return all(check(x, depth + 1) for x in item)
        if kind is dict:
            return all(check(k, depth + 1) and check(v, depth + 1) for k, v in item.items())
        if kind is torch.Tensor:
            return (
                item.layout is torch.strided
                and item.device.type == "cpu"
                and item.dtype in DTYPES
                and item.is_contiguous()
                and item.untyped_storage().nbytes() == item.numel() * item.element_size()
            )
        return False

    return check(value, 0)


def within_bounds(
    call: Callable[[], Any], *, seconds: float = QUICK_SECONDS, python_bytes: int = PYTHON_MEMORY_BYTES
) -> Any:
    """What `call` returns or raises; it must take under `seconds`, allocate under `python_bytes` in Python,
    and raise the process's peak memory by under 64 MB. It runs twice: timed alone, then under tracemalloc,
    which slows allocation several times."""

    def outcome() -> Any:
        try:
            return call()
        except Exception as error:
            return error

    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # This thread's CPU time, not wall time: the work the decoder does, whatever else the machine (or another
    # thread of this process) runs meanwhile. A collection of the test process's own garbage is not the decoder's.
    gc.collect()
    gc.disable()
    try:
        started = time.thread_time()
        result = outcome()
        elapsed = time.thread_time() - started
    finally:
        gc.enable()
    tracemalloc.start()
    try:
        outcome()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < python_bytes, f"Python allocated {peak / 1e6:.1f} MB"
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) * 1024
    assert grown < 64 * 1024 * 1024, f"peak memory grew by {grown / 1e6:.0f} MB"
    return result


def refused(data: bytes) -> str:
    """decode(data) raises WireError, quickly and within bounded memory; its message is short."""
    error = within_bounds(lambda: wire.decode(data))
    assert isinstance(error, wire.WireError), repr(error)[:200]
    text = str(error)
    assert len(text) < 200, text
    return text


# --- round trips --------------------------------------------------------------------------------------------

SCALARS = [
    None,
    True,
    False,
    0,
    -1,
    wire.MIN_INT,
    wire.MAX_INT,
    1.5,
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    5e-324,
    "",
    "Fahrenheit",
    'température 🌡 \x00\n\t\\ "quoted"',
    b"",
    b"\x00\xff png",
]


@pytest.mark.parametrize("value", SCALARS, ids=repr)
def test_scalars_round_trip(value: Any) -> None:
    assert same(wire.decode(wire.encode(value)), value)


@pytest.mark.parametrize(
    "value",
    [
        [],
        (),
        {},
        [1, [2.0, ["three", [None]]]],
        (1,),
        ((), [()], {"k": ()}),
        {"a": 1, 2: "b", 2.5: None, None: b"", True: [], b"bytes": 0, (1, "x", (None,)): "tuple key"},
        # A student's dict whose keys are the header's tags is still a dict.
        {"t": [1, 2], "d": [], "T": ["float32", [1]], "b": 3},
        [{"t": (1,)}, ({"T": 0},)],
        {"ok": {"axes": [{"lines": [{"x": torch.arange(3.0), "y": torch.ones(3)}], "points": []}]}},
    ],
    ids=repr,
)
def test_containers_round_trip(value: Any) -> None:
    assert same(wire.decode(wire.encode(value)), value)


def test_an_ordered_dict_comes_back_as_a_dict_in_order() -> None:
    state = torch.nn.Sequential(torch.nn.Linear(1, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).state_dict()
    assert type(state) is collections.OrderedDict
    decoded = wire.decode(wire.encode(state))
    assert type(decoded) is dict
    assert same(decoded, dict(state))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (0, 4), (1, 1, 1), (2, 1, 3, 1)], ids=str)
def test_tensors_round_trip_bit_for_bit(dtype: torch.dtype, shape: tuple[int, ...]) -> None:
    generator = torch.Generator().manual_seed(0)
    tensor = torch.randint(0, 256, (math.prod(shape) * dtype.itemsize,), dtype=torch.uint8, generator=generator)
    if dtype is torch.bool:
        tensor = tensor % 2
    tensor = tensor.view(dtype).reshape(shape)  # every bit pattern: nan payloads, denormals, negative zeros
    decoded = wire.decode(wire.encode(tensor))
    assert same(decoded, tensor)
    assert plain_within_limits(decoded)


def test_decoded_tensors_are_writable_independent_and_not_tracking_gradients() -> None:
    x = torch.randn(4, 3, requires_grad=True)
    data = wire.encode({"a": x, "b": x, "c": [x.detach()[1:]]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "non-writable buffer" warning
        first = wire.decode(data)
        second = wire.decode(data)
    tensors = [first["a"], first["b"], first["c"][0], second["a"]]
    pointers = {t.untyped_storage().data_ptr() for t in tensors}
    assert len(pointers) == len(tensors), "two decoded tensors share memory"
    for tensor in tensors:
        assert not tensor.requires_grad and tensor.is_leaf
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
    first["a"].add_(1)
    assert torch.equal(first["b"], x.detach()) and torch.equal(second["a"], x.detach())


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.zeros(1).expand(5, 4),
        lambda: torch.arange(12.0).reshape(3, 4).t(),
        lambda: torch.arange(20.0)[3::4],
        lambda: torch.arange(10, dtype=torch.int64)[2:7],
        lambda: torch.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)[:, :, 1:],
        lambda: torch.arange(6.0).as_strided((4, 3), (1, 1)),
        lambda: torch.nn.Parameter(torch.randn(2, 2)),
        lambda: torch.arange(4.0)._neg_view(),
    ],
    ids=["expand", "transpose", "step", "offset", "permute", "overlapping", "parameter", "neg-view"],
)
def test_the_encoder_sends_a_dense_copy_of_any_strided_tensor(make: Callable[[], torch.Tensor]) -> None:
    tensor = make()
    decoded = wire.decode(wire.encode(tensor))
    assert type(decoded) is torch.Tensor and decoded.is_contiguous()
    assert torch.equal(decoded, tensor.detach().clone())
    assert decoded.untyped_storage().nbytes() == decoded.numel() * decoded.element_size()


# --- what the encoder refuses -------------------------------------------------------------------------------


def shared_list(depth: int) -> list[Any]:
    """A list holding the same list twice, `depth` levels deep: 2**depth nodes to walk, in a few bytes."""
    node: list[Any] = []
    for _ in range(depth):
        node = [node, node]
    return node


def cycle() -> list[Any]:
    looped: list[Any] = []
    looped.append(looped)
    return looped


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: torch.zeros(1).expand(1_200_000_000), "elements"),
        (lambda: torch.zeros(3).to_sparse(), "dense"),
        (lambda: torch.eye(3).to_sparse_csr(), "dense"),
        (lambda: torch.zeros(3, device="meta"), "meta"),
        (lambda: torch.quantize_per_tensor(torch.zeros(3), 0.1, 0, torch.qint8), "qint8"),
        (lambda: torch.zeros(3, dtype=torch.complex64), "complex64"),
        (lambda: torch.zeros(3, dtype=torch.float8_e4m3fn), "float8"),
        (lambda: torch.zeros([1] * 9), "dimensions"),
        (lambda: shared_list(28), "values"),
        (cycle, "deep"),
        (lambda: "x" * 48_000_000, "characters"),
        (lambda: ["x" * 1000] * (wire.MAX_MESSAGE_BYTES // 1000), "header"),
        (lambda: [b"\x00" * (1 << 20)] * 17, "bytes"),
        (lambda: [b""] * (wire.MAX_BLOBS + 1), "byte strings"),
        (lambda: 2**64, "64-bit"),
        (lambda: -(2**63) - 1, "64-bit"),
        (lambda: "\ud800", "Unicode"),
        (lambda: {1, 2}, "set"),
        (lambda: bytearray(b"x"), "bytearray"),
        (lambda: object(), "object"),
        (lambda: torch.Size([2]), "Size"),
        (lambda: collections.defaultdict(int), "defaultdict"),
        (lambda: {(1, torch.zeros(1)): 3}, "key"),
        (lambda: {torch.zeros(1): 1}, "key"),
        (lambda: numpy.float64(1.0), "float64"),
    ],
    ids=lambda item: item if isinstance(item, str) else "",
)
@pytest.mark.filterwarnings("ignore:.*(beta state|deprecated)")  # sparse CSR and quantized tensors say so
def test_the_encoder_refuses_what_is_not_plain_or_too_big(make: Callable[[], Any], reason: str) -> None:
    value = make()
    error = within_bounds(lambda: wire.encode(value), python_bytes=64 * 1024 * 1024)
    assert isinstance(error, wire.WireError) and reason in str(error), repr(error)[:200]


def test_fit_text_cuts_long_text_and_replaces_lone_surrogates() -> None:
    cut = wire.fit_text("x" * 10_000)
    assert len(cut) == wire.MAX_STRING_CHARS and cut.endswith("(cut)")
    assert wire.fit_text("ok \ud800").encode() == b"ok ?"
    assert wire.decode(wire.encode(wire.fit_text("é" * 10_000 + "\udfff"))).startswith("éé")


# --- the red team's decoder bombs, as real bytes ------------------------------------------------------------


def test_a_deflated_torch_save_record_is_refused_before_anything_is_inflated() -> None:
    """24 MB on the wire became 24 GiB under torch.load; this one inflates 1000-fold, and is never opened."""
    plain = io.BytesIO()
    torch.save({"ok": {"result": torch.zeros(8 * 1024 * 1024)}}, plain)
    deflated = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as bomb:
        for entry in source.infolist():
            bomb.writestr(entry.filename, source.read(entry.filename))
    record = deflated.getvalue()
    assert len(record) < plain.tell() // 500
    deflated.seek(0)
    assert torch.load(deflated, weights_only=True)["ok"]["result"].numel() == 8 * 1024 * 1024  # a real record
    assert "not a coursekit wire message" in refused(record)


@pytest.mark.parametrize(("depth", "reason"), [(16, "values"), (17, "header")])
def test_a_shared_list_cannot_be_written_in_a_message(depth: int, reason: str) -> None:
    """JSON has no references: 2**28 nodes need 2**28 nodes of header. Already 2**17 are past the node limit,
    and 2**18 past the header's."""
    text = json.dumps(shared_list(depth), separators=(",", ":")).encode()  # json.dumps writes every copy out
    assert reason in refused(message(None, raw_header=text))


@pytest.mark.parametrize("depth", [wire.MAX_DEPTH + 2, 200_000])  # MAX_DEPTH + 1 lists hold a leaf at MAX_DEPTH
def test_deep_nesting_is_refused(depth: int) -> None:
    assert "deep" in refused(message(None, raw_header=b"[" * depth + b"]" * depth))


def test_the_deepest_allowed_nesting_decodes() -> None:
    nested: Any = 1
    for _ in range(wire.MAX_DEPTH):
        nested = [nested]
    assert wire.decode(wire.encode(nested)) == nested


def test_a_stride_zero_tensor_cannot_be_expressed() -> None:
    """A hostile encoder can claim 1.2e9 elements, or add strides: neither gets past the header."""
    assert "dimension" in refused(message({"T": ["float32", [1_200_000_000]]}, b"\x00" * 4))
    assert "elements" in refused(message({"T": ["float32", [4096, 4096, 72]]}, b"\x00" * 4))
    assert "past the end" in refused(message({"T": ["float32", [1_000_000]]}, b"\x00" * 4))
    assert "malformed" in refused(message({"T": ["float32", [1_000_000], [0]]}, b"\x00" * 4))
    assert "malformed" in refused(message({"T": ["float32", [1_000_000], "stride", [0]]}, b"\x00" * 4))


def test_48_mb_strings_are_refused() -> None:
    text = "x" * 48_000_000
    whole = message({"d": ["failure", text]})
    assert "bytes" in refused(whole)
    assert "characters" in refused(message({"d": ["failure", "x" * (wire.MAX_STRING_CHARS + 1)]}))
    escaped = json.dumps("\\u0041" * (wire.MAX_STRING_CHARS + 1))  # short on the wire, longer once unescaped
    assert "characters" in refused(message(None, raw_header=escaped.encode()))


@pytest.mark.parametrize(
    "node",
    [
        {"T": ["meta", [3]]},
        {"T": ["float32", [3], "sparse_coo"]},
        {"T": ["sparse_coo", [3]]},
        {"T": ["qint8", [3]]},
        {"T": ["complex64", [3]]},
        {"T": ["float8_e4m3fn", [3]]},
        {"T": ["torch.float32", [3]]},
        {"T": [7, [3]]},
        {"T": ["float32", 3]},
        {"T": ["float32", [3.0]]},
        {"T": ["float32", [True, 3]]},
        {"T": ["float32", [-3]]},
        {"T": ["float32", [1] * (wire.MAX_TENSOR_DIMS + 1)]},
        {"T": ["float32", [0, 2**62]]},
        {"T": {"dtype": "float32"}},
    ],
    ids=json.dumps,
)
def test_meta_sparse_and_odd_tensors_are_refused(node: Any) -> None:
    refused(message(node, b"\x00" * 12))


def test_a_bool_tensor_holds_only_zeros_and_ones() -> None:
    assert wire.decode(message({"T": ["bool", [3]]}, b"\x00\x01\x00")).tolist() == [False, True, False]
    assert "0 and 1" in refused(message({"T": ["bool", [3]]}, b"\x00\x02\x00"))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "short"),
        (b"CKW", "short"),
        (b"PK\x03\x04" + b"\x00" * 30, "not a coursekit"),
        (message(None, version=0), "version"),
        (message(None, version=2), "version"),
        (wire.PREFIX.pack(wire.MAGIC, wire.VERSION, 100) + b"null", "header"),
        (wire.PREFIX.pack(wire.MAGIC, wire.VERSION, 2**32 - 1) + b"null", "header"),
        (message(None, raw_header=b"\xff\xfe"), "UTF-8"),
        (message(None, raw_header=b'"\xed\xa0\x80"'), "UTF-8"),  # a surrogate, encoded raw
        (message(None, raw_header=b'"\\ud800"'), "Unicode"),  # a surrogate, escaped
        (message(None, raw_header=b"{"), "JSON"),
        (message(None, raw_header=b""), "JSON"),
        (message(None, raw_header=b"1" * 5000), "malformed"),  # more digits than int() reads
        (message(2**64), "64-bit"),
        (message(-(2**63) - 1), "64-bit"),
        (message({"x": 1}), "malformed"),
        (message({"t": [], "d": []}), "malformed"),
        (message({}), "malformed"),
        (message({"t": {}}), "malformed"),
        (message({"d": [1]}), "malformed"),
        (message({"d": ["a", 1, "a", 2]}), "repeated"),
        (message({"d": [1, "a", True, "b"]}), "repeated"),  # 1 == True
        (message({"d": [[1], 2]}), "key"),
        (message({"d": [{"t": [1, [2]]}, 3]}), "key"),
        (message({"d": [{"T": ["float32", [1]]}, 3]}, b"\x00" * 4), "key"),
        (message({"b": -1}), "malformed"),
        (message({"b": True}, b"\x00"), "malformed"),
        (message({"b": 1.0}, b"\x00"), "malformed"),
        (message({"b": 5}, b"\x00"), "past the end"),
        (message({"b": 1}, b"\x00\x00"), "after the last"),
        (message(None, b"\x00"), "after the last"),
        (message([{"b": 0}] * (wire.MAX_BLOBS + 1)), "byte strings"),
        (message([0] * (wire.MAX_NODES + 1)), "values"),
    ],
    ids=lambda item: item if isinstance(item, str) else "",
)
def test_malformed_messages_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    assert reason in refused(data)


@pytest.mark.parametrize("data", ["a string", memoryview(b"CKW"), None, 3])
def test_decode_refuses_what_is_not_bytes(data: Any) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_a_message_over_the_size_limit_is_refused_unread() -> None:
    data = wire.PREFIX.pack(wire.MAGIC, wire.VERSION, 4) + b"null" + b"\x00" * wire.MAX_MESSAGE_BYTES
    assert "bytes" in refused(data)


def test_a_message_at_the_limits_decodes_within_bounds() -> None:
    """The most a message may hold costs a bounded amount of work: the limits are the budget."""
    biggest = {"x": torch.zeros(wire.MAX_MESSAGE_BYTES // 4 - 64, dtype=torch.float32)}
    data = wire.encode(biggest)
    assert same(within_bounds(lambda: wire.decode(data)), biggest)
    many = [[i, "label", 0.5, None] for i in range(wire.MAX_NODES // 5 - 1)]
    data = wire.encode(many)
    assert within_bounds(lambda: wire.decode(data)) == many


# --- what the trusted side passes on ------------------------------------------------------------------------


def test_answer_of_caps_failure_messages_and_refuses_malformed_answers() -> None:
    with pytest.raises(StudentError) as error:
        answer_of(wire.encode({"failure": "y" * wire.MAX_STRING_CHARS}), probe="call")
    assert len(error.value.message) <= MAX_FAILURE_CHARS
    for answer in ({"failure": ["x"] * 1000}, {"failure": b"x"}, {"ok": [1]}, {"ok": {}, "failure": "x"}, [1]):
        with pytest.raises(StudentError, match="malformed"):
            answer_of(wire.encode(answer), probe="call")
    with pytest.raises(StudentError, match="not plain data"):
        answer_of(b"\x80\x04K\x01.", probe="call")  # a pickle


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return x.to_sparse()", "returned a torch.sparse_coo tensor, expected a dense one"),
        ("return [x.to_sparse()]", "returned a torch.sparse_coo tensor"),
        ("return torch.zeros(3, device='meta')", "meta tensor"),
        ("return 'x' * 48_000_000", "characters"),
        ("return torch.zeros(1).expand(5_000_000)", "bytes"),
        ("raise ValueError('long ' * 100_000)", "ValueError: long long"),
    ],
)
def test_an_answer_the_wire_cannot_carry_is_the_students_failure(tmp_path: Path, body: str, expected: str) -> None:
    (tmp_path / "activations.py").write_text(f"import torch\n\ndef tanh(x):\n    {body}\n")
    with pytest.raises(StudentError) as error:
        InProcessStudent(tmp_path).run("call", function="activations.tanh", args=[torch.zeros(3)], kwargs={})
    assert expected in error.value.message
    assert len(error.value.message) <= MAX_FAILURE_CHARS


# --- generated values and hostile bytes ---------------------------------------------------------------------

keys = st.recursive(
    st.none() | st.booleans() | st.integers(wire.MIN_INT, wire.MAX_INT) | st.floats() | st.text(max_size=8),
    lambda children: st.tuples(children, children),
    max_leaves=4,
)


@st.composite
def tensors(draw: st.DrawFn) -> torch.Tensor:
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.lists(st.integers(0, 4), max_size=4))
    raw = draw(st.binary(min_size=math.prod(shape) * dtype.itemsize, max_size=math.prod(shape) * dtype.itemsize))
    tensor = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
    if dtype is torch.bool:
        tensor = tensor % 2
    return tensor.view(dtype).reshape(shape)


leaves = (
    st.none()
    | st.booleans()
    | st.integers(wire.MIN_INT, wire.MAX_INT)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | tensors()
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=20,
)


@HYPOTHESIS
@given(values)
def test_generated_values_round_trip(value: Any) -> None:
    assert same(wire.decode(wire.encode(value)), value)


def decodes_plainly_or_refuses(data: bytes) -> None:
    try:
        value = wire.decode(data)
    except wire.WireError as error:
        assert len(str(error)) < 200
        return
    assert plain_within_limits(value)


@HYPOTHESIS
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_plainly_or_raise_wire_error(data: bytes) -> None:
    decodes_plainly_or_refuses(data)
    decodes_plainly_or_refuses(wire.PREFIX.pack(wire.MAGIC, wire.VERSION, len(data)) + data)


mutations = st.lists(
    st.tuples(st.sampled_from(["flip", "cut", "insert", "delete"]), st.integers(0, 10_000), st.binary(max_size=4)),
    min_size=1,
    max_size=4,
)


@HYPOTHESIS
@given(values, mutations)
def test_mutated_messages_decode_plainly_or_raise_wire_error(value: Any, changes: list[tuple[str, int, bytes]]) -> None:
    data = bytearray(wire.encode(value))
    for kind, at, extra in changes:
        at = at % (len(data) + 1)
        if kind == "flip" and at < len(data):
            data[at] ^= extra[0] if extra and extra[0] else 0xFF
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = extra
        elif kind == "delete":
            del data[at : at + len(extra) + 1]
    decodes_plainly_or_refuses(bytes(data))


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["t", "d", "b", "T", *wire.DTYPE_NAMES, "complex64", "qint8", "meta", "sparse_coo"])
)
hostile_trees = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["t", "d", "b", "T", "x", ""]), children, max_size=2)
        | st.tuples(st.sampled_from(["t", "d"]), st.lists(children, max_size=4)).map(lambda tag: {tag[0]: tag[1]})
        | st.tuples(st.integers(-2, 2**40)).map(lambda n: {"b": n[0]})
        | st.tuples(
            st.sampled_from([*wire.DTYPE_NAMES, "complex64", "meta"]),
            st.lists(st.integers(-1, 2**33) | st.integers(0, 5), max_size=9),
        ).map(lambda spec: {"T": [spec[0], spec[1]]})
    ),
    max_leaves=30,
)


@HYPOTHESIS
@given(hostile_trees, st.binary(max_size=300))
def test_hostile_headers_decode_plainly_or_raise_wire_error(tree: Any, blobs: bytes) -> None:
    decodes_plainly_or_refuses(message(tree, blobs))


@st.composite
def hostile_tensors(draw: st.DrawFn) -> torch.Tensor:
    """Strided, expanded, overlapping, huge, sparse, meta and odd-dtype tensors a student could return."""
    base = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    kind = draw(st.sampled_from(["view", "expand", "strided", "huge", "sparse", "meta", "dtype"]))
    if kind == "view":
        return base.permute(*draw(st.permutations([0, 1, 2])))[..., :: draw(st.integers(1, 3))]
    if kind == "expand":
        return torch.zeros(1).expand(draw(st.integers(0, 100_000)))
    if kind == "strided":
        size = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))
        stride = draw(st.lists(st.integers(0, 3), min_size=len(size), max_size=len(size)))
        return torch.zeros(200).as_strided(size, stride)
    if kind == "huge":
        return torch.zeros(1, 1).expand(draw(st.integers(wire.MAX_TENSOR_NUMEL, 10**12)), 2)
    if kind == "sparse":
        return torch.eye(3).to_sparse()
    if kind == "meta":
        return torch.zeros(3, device="meta")
    dtype = draw(st.sampled_from([torch.complex64, torch.complex128, torch.float8_e5m2, torch.uint16, torch.qint8]))
    if dtype is torch.qint8:
        return torch.quantize_per_tensor(torch.zeros(2), 1.0, 0, dtype)
    return torch.zeros(2, dtype=dtype)


@st.composite
def hostile_values(draw: st.DrawFn) -> Any:
    """Nested, shared and huge structures holding hostile tensors."""
    tensor = draw(hostile_tensors())
    kind = draw(st.sampled_from(["alone", "shared", "nested", "wide"]))
    if kind == "alone":
        return tensor
    if kind == "shared":
        node: list[Any] = [tensor]
        for _ in range(draw(st.integers(1, 20))):  # 2**17 is past the node limit
            node = [node, node]
        return node
    if kind == "nested":
        nested: Any = tensor
        for _ in range(draw(st.integers(1, 60))):
            nested = {"k": nested}
        return nested
    return [tensor] * draw(st.integers(1, wire.MAX_BLOBS + 100))


@settings(HYPOTHESIS, max_examples=60)  # each example may walk up to the node limit
@pytest.mark.filterwarnings("ignore:.*(beta state|deprecated)")
@given(hostile_values())
def test_hostile_values_encode_to_plain_data_or_raise_wire_error(value: Any) -> None:
    try:
        data = wire.encode(value)
    except wire.WireError:
        return
    decoded = wire.decode(data)
    assert plain_within_limits(decoded)
