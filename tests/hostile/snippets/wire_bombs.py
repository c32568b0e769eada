"""Prepended to every module of a correct hand-in, after a line `BOMB = "<kind>"`: every answer the hand-in's
process sends back is a decoder bomb, built to exhaust the memory of the trusted process that reads it.

- deflate: a torch.save record whose storage is deflate-compressed, 1 GiB once inflated;
- shared: a list holding the same list twice, 28 levels deep (2^28 nodes to rebuild);
- expand: a 1-element storage seen as 1.2e9 elements through stride 0, as a grader's torch.cat would copy it;
- strings: a 48 MB failure message.
"""

import functools
import io
import zipfile

import torch

import coursekit.sandbox.probes
import coursekit.sandbox.wire

_real_encode = coursekit.sandbox.wire.encode


@functools.cache
def _deflate_record() -> bytes:
    plain = io.BytesIO()
    torch.save({"ok": {"result": torch.zeros(1)}}, plain)
    # The same record with its storage member deflated: 1 GiB of zeros, about 1 MB on the wire.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source, zipfile.ZipFile(out, "w", compresslevel=1) as bomb:
        for member in source.infolist():
            if member.filename.endswith("/data/0"):
                info = zipfile.ZipInfo(member.filename)
                info.compress_type = zipfile.ZIP_DEFLATED
                with bomb.open(info, "w", force_zip64=True) as storage:
                    block = bytes(64 * 2**20)
                    for _ in range(16):
                        storage.write(block)
            else:
                bomb.writestr(member, source.read(member))
    return out.getvalue()


def _shared_list() -> list:
    value: list = [0.0]
    for _ in range(28):
        value = [value, value]
    return value


def _bomb(value: object) -> bytes:
    if BOMB == "deflate":  # noqa: F821 - defined by the line the test puts before this file
        return _deflate_record()
    if BOMB == "shared":  # noqa: F821
        return _real_encode({"ok": {"result": _shared_list()}})
    if BOMB == "expand":  # noqa: F821
        return _real_encode({"ok": {"result": torch.zeros(1).expand(1_200_000_000)}})
    return _real_encode({"failure": "x" * 48_000_000})


coursekit.sandbox.wire.encode = _bomb
# Probes strip subclasses and copy tensors before encoding; keep the stride-0 view as it is.
coursekit.sandbox.probes.plain_tensor = lambda value, what: value
