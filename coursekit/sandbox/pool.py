"""Sandboxed students for class grading: a pool of warm workers, one fresh child per (hand-in, part).

The trusted side of the trust boundary. Each slot keeps one warm worker (coursekit.sandbox.worker_main:
torch, numpy, matplotlib and the course's probes file already imported), by default inside bubblewrap
(coursekit.sandbox.bwrap), which sees that one course file read-only and no other. A
`WorkerSession` has the worker fork a child, sends it the hand-in's top-level ``*.py`` files (the
child writes them into its own empty folder: the trusted side never writes where student code can),
and is the grader's
`Student`: ``run(probe, **arguments)`` sends a request, waits at most what is left of the part's
time budget, and decodes the answer only through `coursekit.sandbox.student.answer_of`. The child's prints
come back on a separate pipe, capped. Closing the session kills every process it started and
empties every place it could write; a worker that cannot is replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from coursekit.config import Course, Limits
from coursekit.errors import CoursekitError
from coursekit.sandbox import Isolation, Tier, bwrap, wire
from coursekit.sandbox.student import StudentCrash, StudentError, StudentTimeout, answer_of
from coursekit.sandbox.worker_main import CONTROL_MESSAGE_BYTES, FRAME_HEADER

# How long a warm worker may take to start (imports) and to clean up after a session.
START_TIMEOUT_SECONDS = 120.0
END_TIMEOUT_SECONDS = 15.0
TIER_NOTES: dict[Tier, str | None] = {
    "bwrap": None,
    "uid": (
        "student code ran without namespaces, as an unprivileged uid of its slot's own, confined by Landlock and "
        "seccomp: it shares the host's network stack (seccomp refuses every socket but AF_UNIX) and process "
        "table (Landlock hides /proc), and its disk use is bounded by a watcher, not a size-capped tmpfs"
    ),
    "none": (
        "student code ran as the grading user ({reason}), confined only by Landlock ({landlock}), seccomp and "
        "limits: it could signal this user's other processes and leave processes behind that escape its process "
        "group, and any file Landlock does not cover is as open to it as to you"
    ),
}


def uid_tier_problem() -> str | None:
    """None when the uid tier can run here (root, Landlock, a known syscall table), else why not."""
    from coursekit.sandbox import landlock, seccomp

    if os.geteuid() != 0:
        return "it needs root, to give each slot's student code an unprivileged uid of its own"
    report = landlock.probe_landlock()
    if report.status is not landlock.LandlockStatus.AVAILABLE:
        return f"it needs Landlock to hide the course's files, and Landlock is {report.status.value}: {report.detail}"
    try:
        seccomp.current_architecture()
    except seccomp.SeccompError as error:
        return str(error)
    return None


def choose_tier(isolation: Isolation) -> tuple[Tier, str | None]:
    """The tier for `isolation`, and, for `none`, why no stronger one runs here.

    Raises SandboxUnavailable when the tier asked for cannot run, and for `auto` when neither bwrap nor uid
    can: a tier weaker than the README's promises is never taken without being asked for by name.
    """
    if isolation not in ("auto", "bwrap", "uid", "none"):
        raise ValueError(f"isolation must be 'auto', 'bwrap', 'uid' or 'none', got {isolation!r}")
    if isolation == "none":
        return "none", "isolation 'none' was asked for"
    bwrap_trouble = bwrap.bwrap_problem()
    if isolation == "bwrap" or (isolation == "auto" and bwrap_trouble is None):
        if bwrap_trouble is not None:
            raise bwrap.SandboxUnavailable(bwrap_trouble)
        return "bwrap", None
    uid = uid_tier_problem()
    if uid is not None:
        if isolation == "uid":
            raise bwrap.SandboxUnavailable(f"the uid tier cannot run here: {uid}")
        raise bwrap.SandboxUnavailable(
            f"no isolation tier that keeps the kit's promises runs here: bubblewrap: {bwrap_trouble}; the uid tier: {uid}. "
            "--isolation none grades with Landlock, seccomp and limits only"
        )
    return "uid", None


def course_probes_file(course_dir: Path, course: Course) -> Path | None:
    """The course's probes file (course.yml's chapter.probes), or None when the course has only the kit's probes."""
    return None if course.chapter.probes is None else course_dir / course.chapter.probes


def handin_files(handin_dir: Path) -> dict[str, bytes]:
    """The hand-in's top-level ``*.py`` files by name: regular files only, so a symlink in a hand-in cannot pull
    a host file into the sandbox."""
    files = {}
    for source in sorted(Path(handin_dir).iterdir()):
        if source.suffix == ".py" and not source.is_symlink() and source.is_file():
            files[source.name] = source.read_bytes()
    return files


class WorkerError(CoursekitError, RuntimeError):
    """The pool itself failed (not the student's code): a worker would not start or answered nonsense."""


class MissingProbesFile(CoursekitError, FileNotFoundError):
    """The course's probes file (course.yml's chapter.probes) is not there: no worker could answer its probes."""


def function_name(probe: str, arguments: dict[str, Any]) -> str:
    """The student's function a request runs: `function="ops.square"` -> 'square', else the one the probe was
    registered with (coursekit.sandbox.probes.probe), else the probe's name."""
    from coursekit.sandbox.probes import REGISTERED

    function = arguments.get("function")
    if isinstance(function, str) and function:
        return function.rpartition(".")[2]
    registration = REGISTERED.get(probe)
    return registration.function if registration is not None and registration.function else probe


def describe_status(status: int | None) -> str:
    """'exit code 3' or 'signal 9 (SIGKILL)' from a wait status."""
    if status is None:
        return "its worker process was killed"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"signal {number} ({name})"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


class _OutputCollector:
    """Drains one pipe to its end, keeping the first `limit` bytes; the rest is counted and dropped."""

    def __init__(self, *, read_fd: int, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0
        self._read_fd = read_fd
        self._thread = threading.Thread(target=self._drain, name="worker-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while chunk := os.read(self._read_fd, 65536):
                room = self.limit - len(self.kept)
                self.kept += chunk[:room] if room > 0 else b""
                self.dropped += max(0, len(chunk) - max(room, 0))
        except OSError:
            pass
        finally:
            os.close(self._read_fd)

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[output cut: {self.dropped} more bytes after the first {self.limit // 1024} KB]\n"
        return text

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class _WarmWorker:
    """One warm worker process (in bwrap or not) and its control socket."""

    def __init__(
        self, *, scratch_dir: Path, tier: Tier, limits: Limits, host_id: int, probes_file: Path | None
    ) -> None:
        self.scratch_dir = scratch_dir
        self.tier = tier
        self.isolated = tier == "bwrap"
        writable_mb = max(64, 2 * limits.file_size_mb)
        self.pid_cap_problem: str | None = None
        self._sandbox_pidfd: int | None = None
        control, remote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        started = time.monotonic()
        namespace: bwrap.UserNamespace | None = None
        try:
            if self.isolated:
                # Grading as root: the student's uid maps to an unprivileged host uid of the slot's own.
                namespace = bwrap.UserNamespace(host_id=host_id) if os.geteuid() == 0 else None
                info_read, info_write = os.pipe()
                command = [
                    bwrap.sandbox_python(),
                    "-P",
                    "-m",
                    "coursekit.sandbox.worker_main",
                    str(remote.fileno()),
                    "bwrap",
                ]
                command.append(str(writable_mb))
                if probes_file is not None:
                    command.append(bwrap.COURSE_PROBES_MOUNT)
                argv = bwrap.bwrap_command(
                    writable_size_mb=writable_mb,
                    info_fd=info_write,
                    command=command,
                    userns_fd=None if namespace is None else namespace.fd,
                    probes_file=probes_file,
                )
                pass_fds = (remote.fileno(), info_write) + (() if namespace is None else (namespace.fd,))
                self.process = subprocess.Popen(
                    argv,
                    pass_fds=pass_fds,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    # Nothing of the grading host's environment (tokens, credentials) enters the sandbox.
                    env={},
                    # No supplementary group of the grading user (root's group 0 is mapped inside) comes along.
                    extra_groups=[] if namespace is not None else None,
                )
                os.close(info_write)
                with os.fdopen(info_read, "rb") as info:
                    sandbox_pid = json.loads(info.read(4096) or b"{}").get("child-pid")
                # The worker is the sandbox's pid 1, not bubblewrap's child in our process group: a pidfd reaches it
                # when it must be killed, and never another process that reuses its pid later.
                self._sandbox_pidfd = os.pidfd_open(sandbox_pid) if isinstance(sandbox_pid, int) else None
            else:
                # The uid tier's worker stays root (it must read Python's files wherever they are installed); each
                # child becomes the slot's uid before anything of the student's runs. Its disk budget matches the
                # sandbox's three tmpfs mounts.
                tier_argument = f"uid:{host_id}" if tier == "uid" else "none"
                command = [
                    sys.executable,
                    "-P",
                    "-m",
                    "coursekit.sandbox.worker_main",
                    str(remote.fileno()),
                    tier_argument,
                ]
                command.append(str(3 * writable_mb))
                if probes_file is not None:
                    command.append(str(probes_file))
                environment = {**bwrap.sandbox_environment(), "PYTHONPATH": str(bwrap.package_dir().parent)}
                environment["HOME"] = environment["TMPDIR"] = str(scratch_dir)
                environment["MPLCONFIGDIR"] = str(scratch_dir / ".matplotlib")
                self.process = subprocess.Popen(
                    command,
                    pass_fds=(remote.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                    cwd=scratch_dir,
                    env=environment,
                )
                sandbox_pid = None
        finally:
            remote.close()
            if namespace is not None:
                namespace.close()
        self.control = control
        self.owner_pid = os.getpid()
        self._started = started
        self._sandbox_pid = sandbox_pid
        self.ready = False

    def wait_ready(self) -> None:
        """Wait until the worker has imported torch and said it is ready (or raise WorkerError)."""
        if self.ready:
            return
        ready = self.receive(timeout=START_TIMEOUT_SECONDS)
        if ready is None or ready.get("op") != "ready":
            error = self.kill()
            raise WorkerError(f"the warm worker did not start: {error or 'no answer'}")
        self.ready = True
        self.start_seconds = time.monotonic() - self._started
        if self.isolated and isinstance(self._sandbox_pid, int):
            self.pid_cap_problem = bwrap.cap_pid_namespace(process_id=self._sandbox_pid)
        elif self.isolated:
            self.pid_cap_problem = "bubblewrap did not report the sandbox's process id"

    def alive(self) -> bool:
        if os.getpid() == self.owner_pid:
            return self.process.poll() is None
        # A process forked from the owner (a grading process) cannot wait for the worker: Popen.poll() would
        # report it dead. The control socket reads end-of-stream once the worker is gone.
        try:
            readable, _, _ = select.select([self.control], [], [], 0)
            return not readable or self.control.recv(CONTROL_MESSAGE_BYTES, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> bool:
        try:
            if fds:
                socket.send_fds(self.control, [json.dumps(message).encode()], fds)
            else:
                self.control.send(json.dumps(message).encode())
        except OSError:
            return False
        return True

    def receive(self, *, timeout: float) -> dict[str, Any] | None:
        """The next control message, or None when the worker is gone, silent or talking nonsense."""
        self.control.settimeout(max(timeout, 0.001))
        try:
            data = self.control.recv(CONTROL_MESSAGE_BYTES)
            message = json.loads(data) if data else None
        except (OSError, ValueError):
            return None
        return message if isinstance(message, dict) else None

    def kill(self) -> str:
        """Kill the worker and its whole sandbox; return what it wrote to stderr (for diagnostics)."""
        if self._sandbox_pidfd is not None:  # pid 1 of the sandbox: its death ends every process in it
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._sandbox_pidfd, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        try:
            _, errors = self.process.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            errors = b""
        self.control.close()
        if self._sandbox_pidfd is not None:
            os.close(self._sandbox_pidfd)
            self._sandbox_pidfd = None
        return (errors or b"").decode(errors="replace").strip()[-2000:]


class WorkerPool:
    """Warm workers, one per slot; `session()` gives a sandboxed `Student` for one part of one hand-in.

    Sessions on one slot run one after the other; different slots may be used from different threads, but
    workers must be started from a thread that outlives them (see `start`).
    """

    def __init__(
        self,
        *,
        limits: Limits,
        scratch_dir: Path,
        slots: int,
        isolation: Isolation = "auto",
        probes_file: Path | None = None,
    ) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        if probes_file is not None and not Path(probes_file).is_file():
            raise MissingProbesFile(
                f"the course's probes file {probes_file} (course.yml's chapter.probes) is not a file"
            )
        self.limits = limits
        # The course's probes (course.yml's chapter.probes): the one course file the workers read, loaded at their
        # start-up; None: the kit's own probes only.
        self.probes_file = None if probes_file is None else Path(probes_file).resolve()
        self.scratch_dir = scratch_dir.resolve()
        self.slots = slots
        self.tier, self._weaker_reason = choose_tier(isolation)
        self._workers: dict[int, _WarmWorker] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        if self.tier == "uid":
            # The slots' uids must reach their session folders: a folder of the pool's own that they may pass
            # through but not list (the caller's scratch folder may sit below one only root can enter).
            self.scratch_dir = Path(tempfile.mkdtemp(prefix="coursekit-slots-"))
            self.scratch_dir.chmod(0o711)
            self._own_scratch = True
        else:
            self._own_scratch = False

    @property
    def isolated(self) -> bool:
        """Whether student code runs in bubblewrap's namespaces (the strongest tier)."""
        return self.tier == "bwrap"

    def isolation_note(self) -> str | None:
        """None when student code runs in the strongest tier, else one line saying what is lost."""
        if self.tier != "bwrap":
            from coursekit.sandbox import landlock

            note = TIER_NOTES[self.tier] or ""
            return note.format(reason=self._weaker_reason, landlock=landlock.probe_landlock().status.value)
        problems = {worker.pid_cap_problem for worker in self._workers.values() if worker.pid_cap_problem}
        if problems and os.geteuid() == 0:
            return (
                "the sandbox's process count could not be capped (" + "; ".join(sorted(problems)) + "), and "
                "running as root the kernel does not apply RLIMIT_NPROC in the sandbox: a fork bomb can slow other slots"
            )
        return None

    def slot_dir(self, slot: int) -> Path:
        return self.scratch_dir / f"slot-{slot}"

    def worker(self, slot: int) -> _WarmWorker:
        """The slot's warm worker, started (or restarted after a crash) if need be."""
        if not 0 <= slot < self.slots:
            raise ValueError(f"slot must be in 0..{self.slots - 1}, got {slot}")
        if self._closed:
            raise WorkerError("the worker pool is closed")
        with self._lock:
            worker = self._workers.get(slot)
        if worker is not None and worker.alive():
            worker.wait_ready()
            return worker
        if worker is not None:
            worker.kill()
        worker = self._spawn(slot)
        worker.wait_ready()
        return worker

    def start(self) -> None:
        """Start every slot's worker at once, without waiting for them (they import torch in parallel).

        Call it from a thread that outlives the workers: bubblewrap's --die-with-parent follows the thread
        that started it, so a worker started from a short-lived thread dies with that thread.
        """
        for slot in range(self.slots):
            with self._lock:
                running = slot in self._workers
            if not running:
                self._spawn(slot)

    def _spawn(self, slot: int) -> _WarmWorker:
        directory = self.slot_dir(slot)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, mode=0o711)
        worker = _WarmWorker(
            scratch_dir=directory,
            tier=self.tier,
            limits=self.limits,
            host_id=bwrap.uid_of_slot(slot),
            probes_file=self.probes_file,
        )
        with self._lock:
            self._workers[slot] = worker
        return worker

    def discard(self, slot: int) -> None:
        """Kill a slot's worker (it misbehaved); the next session starts a fresh one."""
        with self._lock:
            worker = self._workers.pop(slot, None)
        if worker is not None:
            worker.kill()

    def session(self, *, slot: int, handin_dir: Path, part: str) -> WorkerSession:
        """A fresh child on `slot` that can import the hand-in's top-level .py files, for one part."""
        return WorkerSession(pool=self, slot=slot, handin_dir=handin_dir, part=part)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._workers.items())
            self._workers.clear()
        for slot, worker in workers:
            worker.kill()
            shutil.rmtree(self.slot_dir(slot), ignore_errors=True)
        if self._own_scratch:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class WorkerSession:
    """A `Student` for one part of one hand-in, running in a fresh child of a warm worker."""

    def __init__(self, *, pool: WorkerPool, slot: int, handin_dir: Path, part: str) -> None:
        if pool.probes_file is not None:  # this side checks each answer against its probe's registered form
            from coursekit.sandbox.probes import load_course_probes

            load_course_probes(pool.probes_file)
        self.pool = pool
        self.slot = slot
        self.part = part
        self.limits = pool.limits
        self._failure: StudentError | None = None
        self._answered = False
        self._ended = False
        self._child_status: int | None = None
        # Why the worker ended the session itself (a disk budget), when it did.
        self._end_reason: str | None = None
        self._worker = pool.worker(slot)
        # Until the child has the hand-in's files, the kit's own time limit applies, not the student's budget.
        self._deadline = time.monotonic() + END_TIMEOUT_SECONDS
        self._results, child_results = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        output_read, output_write = os.pipe()
        self._output = _OutputCollector(read_fd=output_read, limit=self.limits.output_kb * 1024)
        sent = self._worker.send(
            {"op": "session", "limits": self.limits.model_dump()}, [child_results.fileno(), output_write]
        )
        child_results.close()
        os.close(output_write)
        started = self._worker.receive(timeout=END_TIMEOUT_SECONDS) if sent else None
        if started is None or started.get("op") != "started":
            self._worker_died()
            return
        # The hand-in's files travel to the child, which writes them inside the sandbox: the trusted side never
        # writes into a folder the sandbox can write to, so it cannot be led through a link planted there.
        files = handin_files(handin_dir)
        try:
            self._send_frame(wire.encode({"files": files}))
        except (TimeoutError, ConnectionError, OSError):
            self._end_child()
            self._failure = StudentCrash("the hand-in's files could not be handed to the worker process")
        # The budget starts once the child has its files: the worker's start-up and the fork are not the student's.
        self._deadline = time.monotonic() + self.limits.time_seconds

    @property
    def output(self) -> str:
        """What the student's code printed (stdout and stderr together), capped at limits.output_kb."""
        return self._output.text()

    def _worker_died(self) -> None:
        self._ended = True
        self.pool.discard(self.slot)
        self._failure = StudentCrash("your code ended the worker process (it killed the process that started it)")

    def _end_child(self) -> None:
        """Have the worker kill the child and everything it started; restart the worker if it does not."""
        if self._ended:
            return
        self._ended = True
        reply = None
        if self._worker.send({"op": "end"}):
            reply = self._worker.receive(timeout=END_TIMEOUT_SECONDS)
        if reply is None or reply.get("op") != "ended" or not isinstance(reply.get("status"), int):
            self.pool.discard(self.slot)
            return
        self._child_status = reply["status"]
        if isinstance(reply.get("reason"), str):
            self._end_reason = reply["reason"]
        if reply.get("clean") is not True:
            # Something of this session's survived the clean-up: the next hand-in gets a fresh sandbox instead.
            self.pool.discard(self.slot)

    def run(self, probe: str, /, **arguments: Any) -> dict[str, Any]:
        """Run a probe in the child; raise StudentError, StudentTimeout or StudentCrash when it fails."""
        if self._failure is not None:
            raise self._failure
        name = function_name(probe, arguments)
        request = wire.encode({"probe": probe, "arguments": arguments})
        try:
            self._send_frame(request)
            header = self._receive(FRAME_HEADER.size)
            (size,) = FRAME_HEADER.unpack(header)
            if size > wire.MAX_MESSAGE_BYTES:
                self._end_child()
                self._failure = StudentError(f"{name} sent back {size} bytes, more than the kit accepts")
                raise self._failure
            response = self._receive(size)
        except TimeoutError:
            self._end_child()
            # The first call of a session also imports the student's module: its top-level code may be the culprit.
            what = name if self._answered else f"{name} (or the import of your module before it)"
            self._failure = StudentTimeout(f"{what} did not return within {self.limits.time_seconds:g} s")
            raise self._failure from None
        except (ConnectionError, EOFError, OSError):
            worker_gone = self._control_closed()
            self._end_child()
            if worker_gone or self._child_status is None:
                self._failure = StudentCrash(
                    f"your code ended the worker process (it killed the process that started it) while running {name}"
                )
            elif self._end_reason is not None:
                self._failure = StudentCrash(f"{self._end_reason} while running {name}")
            elif os.WIFSIGNALED(self._child_status) and os.WTERMSIG(self._child_status) == signal.SIGXCPU:
                self._failure = StudentTimeout(f"{name} used more than its CPU time ({self.limits.time_seconds:g} s)")
            else:
                self._failure = StudentCrash(
                    f"your code ended the worker process ({describe_status(self._child_status)}) while running {name}"
                )
            raise self._failure from None
        self._answered = True
        return answer_of(response, probe=probe)

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    def _control_closed(self) -> bool:
        """True when the warm worker is gone (its control socket reads end of stream)."""
        if not self._worker.alive():
            return True
        readable, _, _ = select.select([self._worker.control], [], [], 0)
        if not readable:
            return False
        try:
            return self._worker.control.recv(CONTROL_MESSAGE_BYTES, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _send_frame(self, message: bytes) -> None:
        self._send(FRAME_HEADER.pack(len(message)) + message)

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([self._worker.control], [self._results], [], self._remaining())
            if self._control_closed():
                raise ConnectionError("worker gone")
            if writable:
                view = view[self._results.send(view[: 1 << 20]) :]

    def _receive(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            readable, _, _ = select.select([self._worker.control, self._results], [], [], self._remaining())
            if self._worker.control in readable and self._control_closed():
                raise ConnectionError("worker gone")
            if self._results in readable:
                chunk = self._results.recv(min(size - len(data), 1 << 20))
                if not chunk:
                    raise EOFError("child gone")
                data += chunk
        return bytes(data)

    def close(self) -> None:
        """Kill the child and everything it started, collect its output, remove its files."""
        if self._results.fileno() == -1:
            return
        self._end_child()
        self._results.close()
        self._output.join(timeout=5)

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
