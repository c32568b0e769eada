"""The warm worker: imports torch once, then forks one child per (hand-in, part) to run the student's code.

This module runs on the untrusted side, usually inside the bubblewrap sandbox (coursekit.sandbox.bwrap),
started by coursekit.sandbox.pool as ``python -P -m coursekit.sandbox.worker_main CONTROL_FD TIER DISK_MB
[PROBES_FILE]``. It decides nothing: it only forks, limits, kills and cleans up. TIER is ``bwrap`` (inside the
sandbox), ``uid:N`` (no namespaces, grading as root: each child becomes host uid N, then Landlock and seccomp)
or ``none`` (Landlock and seccomp only). PROBES_FILE, the course's probes (read-only), is imported at start-up,
before any student's code, so every child has the course's probes registered.

Control messages are JSON on a SOCK_SEQPACKET socket (one message per packet):
  trusted -> worker  {"op": "session", "limits": {...}} with two fds: the results socket and the
                     write end of the output pipe
  worker -> trusted  {"op": "started", "pid": child}
  trusted -> worker  {"op": "end"}: kill everything the session started
  worker -> trusted  {"op": "ended", "status": wait status of the child, "clean": whether every
                     writable place is empty again}
On its results socket the child first reads one length-prefixed frame {"files": {name: bytes}}, the
hand-in's modules, and writes them into its empty session folder; then it answers length-prefixed
probe requests (coursekit.sandbox.probes).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

FRAME_HEADER = struct.Struct(">Q")
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
LINUX_CAPABILITY_VERSION_3 = 0x20080522
# The sandbox's folder for the hand-in's files (coursekit.sandbox.bwrap.SCRATCH_MOUNT, a tmpfs of its own).
SANDBOX_SCRATCH = "/scratch"
SANDBOX_WRITABLE = (SANDBOX_SCRATCH, "/tmp", "/dev/shm")
SANDBOX_UID = 1000
PR_SET_CHILD_SUBREAPER = 36
STDLIB_WARM_MODULES = (
    "encodings.idna",
    "encodings.ascii",
    "encodings.latin_1",
    "statistics",
    "fractions",
    "decimal",
    "random",
    "itertools",
    "functools",
    "collections",
    "dataclasses",
    "typing",
    "copy",
    "csv",
    "json",
    "string",
    "textwrap",
    "heapq",
    "bisect",
    "operator",
    "numbers",
    "traceback",
    "pickle",
    "tempfile",
    "subprocess",
    "time",
)
# How often the worker looks at a session folder's size without the sandbox's size-capped tmpfs.
DISK_CHECK_SECONDS = 0.1
# A module name a hand-in file may have: what the trusted side sends is checked again here.
MODULE_FILE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\.py")
IPC_RMID = 0
# CPU seconds allowed beyond the wall-clock budget before the kernel stops the child itself.
CPU_MARGIN_SECONDS = 5
CONTROL_MESSAGE_BYTES = 65536
# Signals the worker ignores so that a student's child cannot stop it with a polite signal.
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def warm_up(probes_file: str | None = None) -> None:
    """Import what every hand-in uses and the course's probes, without starting any thread pool (threads do not
    survive fork)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    import numpy
    import torch

    from coursekit.sandbox import landlock, probes, seccomp, wire

    # Without the sandbox, the student's uid may not be able to read Python's own files (an installation below
    # /root): what student code commonly imports, and what the standard library loads lazily, is loaded now.
    for name in STDLIB_WARM_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)

    if probes_file is not None:
        probes.load_course_probes(Path(probes_file))
    seccomp.prepare_student_filter()
    landlock.probe_landlock()
    # Touch the lazy paths of the wire format once, so each child need not.
    wire.decode(wire.encode({"ok": {"x": torch.zeros(2), "n": numpy.float64(1.0).item()}}))
    matplotlib.pyplot.figure().savefig(io.BytesIO(), format="png")
    matplotlib.pyplot.close("all")
    # The first operator trace and the first optimizer step import torch._dynamo lazily (about 1 s): once, here.
    torch.set_num_threads(1)
    x = torch.ones(2, requires_grad=True)
    with probes.OpRecorder():
        (x * 2).sum()
    for optimizer in (torch.optim.SGD([x], lr=0.1), torch.optim.Adam([x], lr=0.1)):
        (x * x).sum().backward()
        optimizer.step()


def read_exactly(sock: socket.socket, size: int) -> bytes | None:
    """`size` bytes from `sock`, or None at end of stream."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def set_limits(limits: dict[str, Any], *, mapped: int) -> None:
    """Hard limits for the student's child, set before any of their code is imported."""
    cpu = math.ceil(float(limits["time_seconds"])) + CPU_MARGIN_SECONDS
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    # torch maps far more address space than it touches; the budget is on top of what is mapped (`mapped` bytes).
    memory = mapped + int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    processes = int(limits["processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    file_size = int(limits["file_size_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    open_files = int(limits["open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def write_handin_files(results: socket.socket, directory: str) -> None:
    """Read the {"files": {name: bytes}} frame and write each module into `directory` (empty, ours alone)."""
    from coursekit.sandbox import wire

    header = read_exactly(results, FRAME_HEADER.size)
    if header is None:
        raise EOFError("no hand-in files")
    (size,) = FRAME_HEADER.unpack(header)
    if size > wire.MAX_MESSAGE_BYTES:
        raise ValueError("hand-in files frame too large")
    data = read_exactly(results, size)
    if data is None:
        raise EOFError("no hand-in files")
    files = wire.decode(data)["files"]
    for name, content in files.items():
        if not isinstance(name, str) or not MODULE_FILE.fullmatch(name) or not isinstance(content, bytes):
            raise ValueError(f"not a module file: {name!r}")
        fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as file:
            file.write(content)


def become_student(uid: int) -> None:
    """Leave root for the slot's unprivileged uid and gid, with no supplementary group."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        raise OSError(f"could not become uid {uid}")


def confine_files(directory: str, probes_file: str | None = None) -> None:
    """Without a mount namespace: Landlock lets this process read only what Python needs and the course's probes
    file, and write only `directory`."""
    from coursekit.sandbox import landlock

    course = [] if probes_file is None else [probes_file]
    report = landlock.restrict_filesystem(
        read_only=[*landlock.student_read_only_paths(), *course],
        read_write=[directory, *landlock.SYSTEM_READ_WRITE_PATHS],
    )
    if not report.enforced:
        raise OSError(f"Landlock could not restrict the student's files: {report.detail}")


def run_child(
    *, results_fd: int, output_fd: int, directory: str, limits: dict[str, Any], tier: str, probes_file: str | None
) -> None:
    """The forked child: the hand-in's files, limits, then answer probe requests on `results_fd` until it closes.

    Never returns."""
    code = 70
    try:
        os.setsid()
        for number in IGNORED_SIGNALS:
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        mapped = _status_kib("VmSize") * 1024  # read before Landlock, which hides /proc
        if tier != "bwrap":
            # Before the uid switch: Landlock's rules are made by opening each path, which root can do wherever
            # Python is installed; the restriction outlives the switch.
            confine_files(directory, probes_file)
        if tier.startswith("uid:"):
            become_student(int(tier.removeprefix("uid:")))
        # The child dies with the worker, so it never outlives a killed worker (set after the uid switch, which
        # clears it).
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(null)
        os.close(output_fd)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        os.chdir(directory)
        if tier != "bwrap":  # the sandbox has its own /tmp; elsewhere the session folder is the only writable place
            import tempfile

            os.environ.update(HOME=directory, TMPDIR=directory, MPLCONFIGDIR=os.path.join(directory, ".matplotlib"))
            tempfile.tempdir = directory
        results = socket.socket(fileno=results_fd)
        write_handin_files(results, directory)
        set_limits(limits, mapped=mapped)
        from coursekit.sandbox import probes, seccomp

        # Last before the student's code: no ptrace, io_uring, namespaces, mounts, keyrings, bpf or sockets
        # other than AF_UNIX, for this process and everything it starts.
        seccomp.install_student_filter()
        import torch

        torch.set_num_threads(1)
        handin = probes.Handin(Path(directory))
        while True:
            header = read_exactly(results, FRAME_HEADER.size)
            if header is None:
                code = 0
                break
            (size,) = FRAME_HEADER.unpack(header)
            request = read_exactly(results, size)
            if request is None:
                code = 0
                break
            response = probes.handle_request(handin, request)
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            results.sendall(FRAME_HEADER.pack(len(response)) + response)
    except BaseException:  # the child must never fall back into the worker's loop
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def remove_ipc_objects(owner: int | None = None) -> None:
    """Remove System V shared memory, semaphores and queues a session left (they outlive processes).

    `owner`: only those of this uid (without the sandbox's own IPC namespace, the others are the host's).
    """
    libc = _libc()
    for table, remove in (("shm", libc.shmctl), ("sem", libc.semctl), ("msg", libc.msgctl)):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/sysvipc/{table}").read_text().splitlines()
            uid_column = lines[0].split().index("uid")
            for line in lines[1:]:
                fields = line.split()
                if owner is not None and int(fields[uid_column]) != owner:
                    continue
                identifier = int(fields[1])
                if table == "sem":
                    remove(identifier, 0, IPC_RMID)
                else:
                    remove(identifier, IPC_RMID, None)


def empty_folder(folder: Path) -> bool:
    """Remove everything below `folder`; True when it is empty afterwards.

    Folders are made writable first (a session can leave a folder `chmod 500` to keep its files), and links
    are removed, never followed.
    """
    with contextlib.suppress(OSError):
        for root, dirs, _ in os.walk(folder):
            for name in dirs:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    with contextlib.suppress(OSError):
                        os.chmod(path, 0o700)
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
    try:
        return not any(folder.iterdir())
    except OSError:
        return False


def processes_of(uid: int) -> list[int]:
    """Every live process on the host whose real uid is `uid` (zombies are dead already: they wait to be reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/status") as status:
                    fields = dict(line.split(":", 1) for line in status if ":" in line)
                if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith(("Z", "X")):
                    found.append(int(entry))
    return found


def kill_every_process_of(uid: int) -> None:
    """SIGKILL every process of `uid`, wherever it went (another session, process group or parent).

    A helper that becomes `uid` sends ``kill(-1)``, which reaches exactly the processes that uid may signal: its
    own. It repeats until none is left, so a process forked meanwhile is caught too.
    """
    for _ in range(100):
        helper = os.fork()
        if helper == 0:
            try:
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
        if not processes_of(uid):
            return


def end_session(*, child: int, tier: str, directory: str) -> tuple[int, bool]:
    """Kill the child and everything it started; return the child's wait status and whether all is clean again.

    In the sandbox this worker is pid 1: ``kill(-1)`` reaches every other process of the namespace, whatever
    session or process group it made for itself, and pid 1 reaps them all. Without it, as root, every process
    of the slot's uid is killed; this worker is their subreaper and reaps them.
    """
    confined_uid = int(tier.removeprefix("uid:")) if tier.startswith("uid:") else None
    if tier == "bwrap":
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
    elif confined_uid is not None:
        kill_every_process_of(confined_uid)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    while True:  # reap everything else that is ours
        try:
            pid, _ = os.waitpid(-1, 0 if tier != "none" else os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    if tier != "bwrap":
        remove_ipc_objects(owner=os.getuid() if confined_uid is None else confined_uid)
        shutil.rmtree(directory, ignore_errors=True)
        return status, not os.path.exists(directory)
    remove_ipc_objects()
    clean = all([empty_folder(Path(folder)) for folder in SANDBOX_WRITABLE])
    return status, clean


def folder_bytes(folder: str, *, limit: int) -> int:
    """The bytes below `folder` (allocated blocks), counting at most `limit` entries: more counts as too much."""
    total = 0
    entries = 0
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            entries += 1
            if entries > limit:
                return sys.maxsize
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def serve(*, control: socket.socket, tier: str, disk_bytes: int, probes_file: str | None = None) -> None:
    """Answer control messages until the trusted side closes the socket."""
    while True:
        data, fds, _, _ = socket.recv_fds(control, CONTROL_MESSAGE_BYTES, 2)
        if not data:
            return
        message = json.loads(data)
        if message.get("op") != "session" or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            send(control, {"op": "error", "message": "expected a session with two file descriptors"})
            continue
        results_fd, output_fd = fds
        # The sandbox's scratch tmpfs is emptied after every session; without the sandbox, a fresh folder.
        directory = SANDBOX_SCRATCH if tier == "bwrap" else tempfile.mkdtemp(prefix="session-", dir=os.getcwd())
        if tier.startswith("uid:"):
            os.chown(directory, int(tier.removeprefix("uid:")), int(tier.removeprefix("uid:")))
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            control.close()
            run_child(
                results_fd=results_fd,
                output_fd=output_fd,
                directory=directory,
                limits=message["limits"],
                tier=tier,
                probes_file=probes_file,
            )
        os.close(results_fd)
        os.close(output_fd)
        send(control, {"op": "started", "pid": child})
        reason = None
        # Without the sandbox's size-capped tmpfs, the session folder is watched: past the budget, the session ends.
        control.settimeout(None if tier == "bwrap" else DISK_CHECK_SECONDS)
        while True:
            try:
                data = control.recv(CONTROL_MESSAGE_BYTES)
            except TimeoutError:
                if reason is None and folder_bytes(directory, limit=100_000) > disk_bytes:
                    reason = f"your code wrote more than {disk_bytes // 2**20} MB to disk"
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                continue
            if not data:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
                return
            if json.loads(data).get("op") == "end":
                break
        control.settimeout(None)
        status, clean = end_session(child=child, tier=tier, directory=directory)
        send(control, {"op": "ended", "status": status, "clean": clean, "reason": reason})


def leave_namespace_root() -> None:
    """In a sandbox made as root (coursekit.sandbox.bwrap.UserNamespace), become the student's uid before anything else.

    bubblewrap leaves this process uid 0 of the namespace with CAP_SETUID and CAP_SETPCAP only: empty the
    bounding set, then switch the uid, which clears every remaining capability.
    """
    libc = _libc()
    capability = 0
    # PR_CAPBSET_READ fails (EINVAL) past the kernel's last capability: every one it knows is dropped.
    while libc.prctl(PR_CAPBSET_READ, capability, 0, 0, 0) >= 0:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"could not drop capability {capability} from the bounding set")
        capability += 1
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    # The inheritable set survives a uid switch: clear it too (capset with all three sets empty).
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "could not clear the inheritable capabilities")
    if os.getuid() != SANDBOX_UID or os.getgid() != SANDBOX_UID or os.getgroups():
        raise OSError("the sandbox's uid, gid or groups are not the student's")


def main(argv: list[str]) -> int:
    control_fd, tier, disk_mb = int(argv[0]), argv[1], int(argv[2])
    probes_file = argv[3] if len(argv) > 3 else None
    if tier == "bwrap" and os.getuid() == 0:
        leave_namespace_root()
    if tier.startswith("uid:"):  # the slot's processes, orphaned, come back to this worker to be reaped
        _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    control = socket.socket(fileno=control_fd)
    warm_up(probes_file)
    for number in IGNORED_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    # Not dumpable: a student's child (same uid) cannot ptrace this process or write its memory.
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    threads = len(os.listdir("/proc/self/task"))
    send(control, {"op": "ready", "pid": os.getpid(), "threads": threads})
    serve(control=control, tier=tier, disk_bytes=disk_mb * 2**20, probes_file=probes_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
