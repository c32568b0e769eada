"""Run a command under a memory limit, so that a memory bomb that gets through kills the test, not the machine.

A memory cgroup (v2, else v1) holds the command and everything it starts; where none can be made, each process
gets an address-space limit instead (weaker: it counts per process, and torch maps far more than it touches).
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _own_cgroup(controller: str | None) -> Path | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller is None and controllers == "":
            for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
                if (root / "cgroup.controllers").exists():
                    return root / path.lstrip("/")
        elif controller is not None and controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    return None


@contextlib.contextmanager
def memory_cgroup(limit_bytes: int) -> Iterator[Path | None]:
    """A fresh memory cgroup limited to `limit_bytes`; yields its cgroup.procs, or None where none can be made."""
    name = f"coursekit-test-{secrets.token_hex(6)}"
    for controller, limit_file in ((None, "memory.max"), ("memory", "memory.limit_in_bytes")):
        parent = _own_cgroup(controller)
        if parent is None:
            continue
        if controller is None and "memory" not in (parent / "cgroup.subtree_control").read_text(errors="ignore"):
            continue
        group = parent / name
        try:
            group.mkdir()
            (group / limit_file).write_text(str(limit_bytes))
            if controller is None:
                (group / "memory.swap.max").write_text("0")
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
            continue
        try:
            yield group / "cgroup.procs"
        finally:
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    os.kill(int(pid), 9)
            with contextlib.suppress(OSError):
                group.rmdir()
        return
    yield None


def run_under_memory_limit(
    argv: list[str], *, limit_mb: int, timeout: float, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(argv)` with the command and all it starts held to `limit_mb` of memory."""
    limit = limit_mb * 1024 * 1024
    with memory_cgroup(limit) as procs:
        if procs is not None:
            argv = ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *argv]
            preexec = None
        else:

            def preexec() -> None:
                resource.setrlimit(resource.RLIMIT_AS, (4 * limit, 4 * limit))

        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=preexec,
            **kwargs,  # type: ignore[arg-type]
        )
