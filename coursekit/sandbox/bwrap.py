"""The bubblewrap sandbox a warm worker runs in, and the checks that say whether it can run here.

Inside, the worker sees the system's libraries, the Python installation, the venv's packages and the
coursekit package, all read-only; fresh ``/proc``; a read-only ``/dev`` with the usual device nodes;
and three small tmpfs mounts made afresh for each sandbox, the only writable places: ``/scratch``
(the session's files), ``/tmp`` and ``/dev/shm``. No host folder is writable inside, so nothing the
student writes lands on the host's disk, and the trusted side never writes where the sandbox can.
There is no network, not even loopback, and no capability. Of the course repository only the
chapter's probes file is mounted (read-only, at `COURSE_PROBES_MOUNT`); the graders, solutions,
course.yml, other hand-ins and the output folder are not mounted at all. Every host path is
derived from this interpreter (`sys.prefix`, `sys.base_prefix`) and from the coursekit package's
location, never written in. bubblewrap starts with an empty environment and the worker is the
sandbox's pid 1 (``--as-pid-1``): there is no init process of the student's uid to ptrace, and
nothing the student starts survives the worker's ``kill(-1)`` at the end of a session.

Run as root, the sandbox's user namespace is made here, not by bubblewrap: its uid and gid 1000 (the
student's) map to an unprivileged host uid and gid of their own per slot (`uid_of_slot`), and its uid 0
maps to root only so that bubblewrap can mount paths below ``/root``. The worker leaves uid 0 for
1000 before it imports anything (coursekit.sandbox.worker_main), dropping every capability and the bounding
set on the way. Run as an ordinary user, bubblewrap makes the namespace and the student's uid is
that user's.

Measured on Linux 6.18: the kernel does not enforce RLIMIT_NPROC for a user namespace's root, so
the pool also caps the sandbox's PID namespace with its own ``pid_max`` (per PID namespace since
Linux 6.14; the smallest allowed value is 301), written from the trusted side.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import coursekit
from coursekit.errors import CoursekitError

# Where things appear inside the sandbox.
SCRATCH_MOUNT = "/scratch"
# The tmpfs mounts made afresh for every sandbox: the only places student code can write.
WRITABLE_MOUNTS = (SCRATCH_MOUNT, "/tmp", "/dev/shm")
# The student's uid and gid inside the sandbox.
SANDBOX_UID = 1000
# Host uids for the sandbox's student, one per slot when grading as root: far above any uid a
# distribution hands out (useradd stops at 60000, systemd's dynamic users at 65519), so that the
# student's processes share no uid with a real account.
HOST_UID_BASE = 2_100_000_000
VENV_MOUNT = "/opt/coursekit/venv"
PACKAGE_ROOT_MOUNT = "/opt/coursekit/lib"
# The course's probes file (course.yml's chapter.probes), the only course file inside.
COURSE_PROBES_MOUNT = "/opt/coursekit/course/probes.py"
# The smallest pid_max the kernel accepts (RESERVED_PIDS + 1): at most 300 live tasks per sandbox.
SANDBOX_PID_MAX = 301
# Files from /etc that the dynamic loader and Python's startup read; nothing else of /etc is mounted.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf")
CLONE_NEWPID = 0x20000000


class SandboxUnavailable(CoursekitError, RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


def package_dir() -> Path:
    """The coursekit package folder (only this folder is mounted, never the repository around it)."""
    return Path(coursekit.__file__).resolve().parent


def in_virtualenv() -> bool:
    return sys.prefix != sys.base_prefix


def sandbox_python() -> str:
    """The interpreter's path inside the sandbox: the relocated venv's, or the installation's own."""
    if in_virtualenv():
        return f"{VENV_MOUNT}/bin/{Path(sys.executable).name}"
    return sys.executable


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _readable_parents(destination: str) -> list[str]:
    """Make the folders above a mount point world-readable: bubblewrap, run as root, creates them 0700."""
    args: list[str] = []
    for parent in reversed(Path(destination).parents[:-1]):  # every ancestor but "/", outermost first
        if not parent.is_relative_to("/usr"):
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _read_only(source: Path | str, destination: str) -> list[str]:
    return [*_readable_parents(destination), "--ro-bind", str(source), destination]


def _python_mounts() -> list[str]:
    """The Python installation at its own path (the venv's interpreter links there), the venv relocated."""
    args: list[str] = []
    base = Path(sys.base_prefix).resolve()
    args += _read_only(base, str(base))
    real_executable = Path(sys.executable).resolve()
    if not real_executable.is_relative_to(base) and not real_executable.is_relative_to("/usr"):
        args += _read_only(real_executable, str(real_executable))
    if in_virtualenv():
        args += _read_only(Path(sys.prefix).resolve(), VENV_MOUNT)
    args += _read_only(package_dir(), f"{PACKAGE_ROOT_MOUNT}/coursekit")
    return args


def sandbox_environment() -> dict[str, str]:
    """The whole environment inside the sandbox (bwrap starts from an empty one)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": PACKAGE_ROOT_MOUNT,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TMPDIR": "/tmp",
    }


def uid_of_slot(slot: int) -> int:
    """The unprivileged host uid (and gid) that a slot's student code runs as when grading as root."""
    return HOST_UID_BASE + slot


class UserNamespace:
    """A user namespace whose uid/gid `SANDBOX_UID` map to `host_id` on the host, held open by a file descriptor.

    Made by a short-lived ``unshare --user`` process whose maps this (root) process writes, then kept
    only as the descriptor bubblewrap joins with ``--userns``.
    """

    def __init__(self, *, host_id: int) -> None:
        unshare = shutil.which("unshare") or "/usr/bin/unshare"
        holder = subprocess.Popen(
            [unshare, "--user", "--", "/bin/sh", "-c", "read line"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
        )
        try:
            own = os.stat("/proc/self/ns/user").st_ino
            deadline = time.monotonic() + 10
            while os.stat(f"/proc/{holder.pid}/ns/user").st_ino == own:
                if holder.poll() is not None or time.monotonic() > deadline:
                    raise SandboxUnavailable("could not create a user namespace (unshare --user failed)")
                time.sleep(0.001)
            mapping = f"0 0 1\n{SANDBOX_UID} {host_id} 1\n"
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{holder.pid}/{name}", "w") as file:
                    file.write(mapping)
            self.fd = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            with contextlib.suppress(OSError):
                holder.kill()
            holder.communicate()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def bwrap_command(
    *, writable_size_mb: int, info_fd: int, command: list[str], userns_fd: int | None, probes_file: Path | None = None
) -> list[str]:
    """The bwrap command line that runs `command` (a sandbox path), its only writable space three small tmpfs mounts.

    `userns_fd`: a `UserNamespace` to join (grading as root); None lets bubblewrap make one. `probes_file`: the
    course's probes, mounted read-only at `COURSE_PROBES_MOUNT`.
    """
    course = [] if probes_file is None else _read_only(Path(probes_file).resolve(), COURSE_PROBES_MOUNT)
    size = str(writable_size_mb * 1024 * 1024)
    if userns_fd is None:
        user = ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    else:
        # bubblewrap switches the uid before the gid, and cannot switch the gid once the uid is not 0: it
        # switches the gid only, and the worker leaves uid 0 itself with the two capabilities that needs.
        user = ["--userns", str(userns_fd), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
        user += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETPCAP"]
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *user,
        "--as-pid-1",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--info-fd",
        str(info_fd),
        *_system_mounts(),
        *_python_mounts(),
        *course,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    for mount in WRITABLE_MOUNTS:
        args += ["--perms", "1777", "--size", size, "--tmpfs", mount]
    args += ["--remount-ro", "/dev", "--chdir", SCRATCH_MOUNT]
    for key, value in sandbox_environment().items():
        args += ["--setenv", key, value]
    return [*args, "--", *command]


@functools.cache
def bwrap_problem() -> str | None:
    """None when bubblewrap can build the sandbox here, else why not (one line)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux namespaces; this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu package 'bubblewrap')"
    # The same namespaces, user mapping and mounts a worker gets, around a program that only exits.
    namespace: UserNamespace | None = None
    try:
        namespace = UserNamespace(host_id=uid_of_slot(0)) if os.geteuid() == 0 else None
        info_read, info_write = os.pipe()  # bubblewrap writes a little JSON there: the pipe's buffer holds it
        probe = bwrap_command(
            writable_size_mb=1,
            info_fd=info_write,
            command=["/usr/bin/env", "true"],
            userns_fd=None if namespace is None else namespace.fd,
        )
        pass_fds = (info_write,) if namespace is None else (info_write, namespace.fd)
        try:
            result = subprocess.run(
                probe, capture_output=True, text=True, timeout=30, check=False, pass_fds=pass_fds, env={}
            )
        finally:
            os.close(info_write)
            os.close(info_read)
    except (OSError, subprocess.TimeoutExpired, SandboxUnavailable) as error:
        return f"bubblewrap could not start: {error}"
    finally:
        if namespace is not None:
            namespace.close()
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
        return f"bubblewrap cannot create namespaces here: {reason[0]}"
    return None


def cap_pid_namespace(*, process_id: int, pid_max: int = SANDBOX_PID_MAX) -> str | None:
    """Set pid_max of the PID namespace `process_id` lives in; None on success, else why it could not.

    Writing /proc/sys/kernel/pid_max changes the writer's own PID namespace, so a short helper
    process joins that namespace (setns, then a fork to be inside it) and writes there.
    """
    script = (
        "import ctypes, os, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        f"if libc.setns(fd, {CLONE_NEWPID}) != 0:\n"
        "    sys.exit('setns: ' + os.strerror(ctypes.get_errno()))\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    try:\n"
        "        with open('/proc/sys/kernel/pid_max', 'w') as f:\n"
        "            f.write(sys.argv[2])\n"
        "    except OSError as error:\n"
        "        print(f'pid_max: {error.strerror}', file=sys.stderr)\n"
        "        os._exit(1)\n"
        "    os._exit(0)\n"
        "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    namespace = f"/proc/{process_id}/ns/pid"
    try:
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", script, namespace, str(pid_max)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
    return None
