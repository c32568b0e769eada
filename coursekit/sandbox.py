"""The bubblewrap sandbox a warm worker runs in, and the checks that say whether it can run here.

Inside, the worker sees the system's libraries, the Python installation, the venv's packages and the
coursekit package, all read-only; its slot's scratch folder (the only writable host path, at
``/scratch``); a private ``/tmp``; fresh ``/proc`` and ``/dev``; no network, not even loopback; and
no capabilities. The course repository (graders, solutions, course.yml, other hand-ins, the output
folder) is not mounted at all. Every host path is derived from this interpreter (`sys.prefix`,
`sys.base_prefix`) and from the coursekit package's location, never written in.

Measured on Linux 6.18 running as root: inside a user namespace that maps to host root, the kernel
does not enforce RLIMIT_NPROC (fork() skips the check for the initial user), so a fork bomb would
not stop at `Limits.processes`. The pool therefore also caps the sandbox's PID namespace with its
own ``pid_max`` (per PID namespace since Linux 6.14; the smallest allowed value is 301), written
from the trusted side. Run as an ordinary user, RLIMIT_NPROC is counted per user namespace and
holds.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import coursekit

# Where things appear inside the sandbox.
SCRATCH_MOUNT = "/scratch"
VENV_MOUNT = "/opt/coursekit/venv"
PACKAGE_ROOT_MOUNT = "/opt/coursekit/lib"
# The smallest pid_max the kernel accepts (RESERVED_PIDS + 1): at most 300 live tasks per sandbox.
SANDBOX_PID_MAX = 301
# Files from /etc that the dynamic loader and Python's startup read; nothing else of /etc is mounted.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf")
CLONE_NEWPID = 0x20000000


class SandboxUnavailable(RuntimeError):
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


def _python_mounts() -> list[str]:
    """The Python installation at its own path (the venv's interpreter links there), the venv relocated."""
    args: list[str] = []
    base = Path(sys.base_prefix).resolve()
    args += ["--ro-bind", str(base), str(base)]
    real_executable = Path(sys.executable).resolve()
    if not real_executable.is_relative_to(base) and not real_executable.is_relative_to("/usr"):
        args += ["--ro-bind", str(real_executable), str(real_executable)]
    if in_virtualenv():
        args += ["--ro-bind", str(Path(sys.prefix).resolve()), VENV_MOUNT]
    args += ["--ro-bind", str(package_dir()), f"{PACKAGE_ROOT_MOUNT}/coursekit"]
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


def bwrap_command(*, scratch_dir: Path, tmp_size_mb: int, info_fd: int, command: list[str]) -> list[str]:
    """The bwrap command line that runs `command` (a sandbox path) with only `scratch_dir` writable."""
    args = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--info-fd",
        str(info_fd),
        *_system_mounts(),
        *_python_mounts(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(tmp_size_mb * 1024 * 1024),
        "--tmpfs",
        "/tmp",
        "--bind",
        str(scratch_dir.resolve()),
        SCRATCH_MOUNT,
        "--chdir",
        SCRATCH_MOUNT,
    ]
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
    probe = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--die-with-parent"]
    probe += [*_system_mounts(), "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/env", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not start: {error}"
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
