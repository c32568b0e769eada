"""Run a function in a forked child of the test process, as the warm worker runs student code, and get its result."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from typing import Any


def run_in_child(
    function: Callable[[], Any], *, before: Callable[[], object] | None = None, timeout: int = 120
) -> tuple[int, Any]:
    """Fork, call `before` (the restriction under test) then `function`; the child's wait status and JSON result.

    The child never returns into pytest: it reports through a pipe and leaves with `os._exit`. An exception in
    the child fails the calling test with the child's message.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_end)
            signal.alarm(timeout)
            if before is not None:
                before()
            payload = {"result": function()}
        except BaseException as error:
            payload = {"error": f"{type(error).__name__}: {error}"}
            code = 1
        try:
            os.write(write_end, json.dumps(payload).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    payload = json.loads(b"".join(chunks)) if chunks else {}
    assert "error" not in payload, payload["error"]
    return status, payload.get("result")
