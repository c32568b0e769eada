"""Filesystem rules without namespaces: Landlock restricts the student's child to the files grading needs.

Where bubblewrap cannot build a mount namespace (Docker, Gradescope, a laptop), Landlock still lets the
child, and every process it starts, read only below the folders it is given (the Python installation, the
venv, the kit's package, the system libraries) and write only below the session's own folders; everything
else, the course's graders and solutions included, cannot be opened, listed, written, executed or linked
to. Every access right the running kernel's ABI knows is handled, so a right it does not grant is denied:
TCP bind and connect are denied outright from ABI 4 on, and from ABI 6 on the child cannot send signals to,
or connect to the abstract UNIX sockets of, processes outside its own sandbox.

/proc (beyond /proc/cpuinfo) is not readable: without a PID namespace it names every process of the host.
torch's optimizers ask `tempfile` for a folder, so the caller points TMPDIR and `tempfile.tempdir` at a
read-write one.

The syscalls are made directly through ctypes (no library has them). An unavailable Landlock is not an
error here: `restrict_filesystem` and `probe_landlock` return a `LandlockReport` that says why, so the caller
can name the isolation tier it got.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import os
import site
import stat
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# The same numbers on x86_64 and aarch64 (the syscall table is unified from 403 on).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RESTRICT_SELF_TSYNC = 1 << 3  # ABI 8: restrict every thread, not only the caller
PR_SET_NO_NEW_PRIVS = 38
TSYNC_ABI = 8


class FsAccess(enum.IntFlag):
    """LANDLOCK_ACCESS_FS_* rights (linux/landlock.h)."""

    EXECUTE = 1 << 0
    WRITE_FILE = 1 << 1
    READ_FILE = 1 << 2
    READ_DIR = 1 << 3
    REMOVE_DIR = 1 << 4
    REMOVE_FILE = 1 << 5
    MAKE_CHAR = 1 << 6
    MAKE_DIR = 1 << 7
    MAKE_REG = 1 << 8
    MAKE_SOCK = 1 << 9
    MAKE_FIFO = 1 << 10
    MAKE_BLOCK = 1 << 11
    MAKE_SYM = 1 << 12
    REFER = 1 << 13  # ABI 2; before it, linking or renaming across folders is always denied
    TRUNCATE = 1 << 14  # ABI 3
    IOCTL_DEV = 1 << 15  # ABI 5


class NetAccess(enum.IntFlag):
    """LANDLOCK_ACCESS_NET_* rights (ABI 4)."""

    BIND_TCP = 1 << 0
    CONNECT_TCP = 1 << 1


class Scope(enum.IntFlag):
    """LANDLOCK_SCOPE_* (ABI 6): what a sandboxed process may not reach outside its own sandbox."""

    ABSTRACT_UNIX_SOCKET = 1 << 0
    SIGNAL = 1 << 1


NO_FS_ACCESS, NO_NET_ACCESS, NO_SCOPE = FsAccess(0), NetAccess(0), Scope(0)
_ABI_1_FS = FsAccess(sum(1 << bit for bit in range(13)))
# The rights each ABI knows, by the ABI that added them.
FS_RIGHTS_ADDED = {1: _ABI_1_FS, 2: FsAccess.REFER, 3: FsAccess.TRUNCATE, 5: FsAccess.IOCTL_DEV}
NET_RIGHTS_ADDED = {4: NetAccess.BIND_TCP | NetAccess.CONNECT_TCP}
SCOPES_ADDED = {6: Scope.ABSTRACT_UNIX_SOCKET | Scope.SIGNAL}
# The newest ABI whose rights this module knows; a newer kernel's extra rights stay unhandled (allowed).
NEWEST_KNOWN_ABI = 8

READ_ONLY_RIGHTS = FsAccess.EXECUTE | FsAccess.READ_FILE | FsAccess.READ_DIR
# Every right but running a program: what a student writes can be read back and changed, never executed.
READ_WRITE_RIGHTS = FsAccess(sum(FsAccess)) & ~FsAccess.EXECUTE
# The rights that apply to a file rather than a folder: a rule on a file may grant only these.
FILE_RIGHTS = FsAccess.EXECUTE | FsAccess.WRITE_FILE | FsAccess.READ_FILE | FsAccess.TRUNCATE | FsAccess.IOCTL_DEV

# What any Python process reads once torch is imported: the dynamic loader's files and the system libraries.
SYSTEM_READ_ONLY_PATHS = (
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    # torch's cpuinfo reads the CPU's description on first use; neither names another process
    "/proc/cpuinfo",
    "/sys/devices/system/cpu",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
)
# Devices any process may write to.
SYSTEM_READ_WRITE_PATHS = ("/dev/null",)


class LandlockStatus(enum.Enum):
    """What Landlock did, or why it could not."""

    ENFORCED = "enforced"  # the process is restricted
    AVAILABLE = "available"  # a probe: restricting would work
    UNSUPPORTED = "unsupported"  # not Linux, or a kernel older than 5.13 (ENOSYS)
    DISABLED = "disabled"  # built into the kernel but not enabled at boot (EOPNOTSUPP)
    FAILED = "failed"  # available, but a step failed: the process is NOT restricted


@dataclass(frozen=True)
class LandlockReport:
    """The outcome, for the caller to print with the isolation tier."""

    status: LandlockStatus
    abi: int  # the kernel's Landlock ABI version, 0 when there is none
    detail: str  # one plain sentence
    handled_fs: FsAccess = NO_FS_ACCESS
    handled_net: NetAccess = NO_NET_ACCESS
    scoped: Scope = NO_SCOPE
    missing_paths: tuple[str, ...] = ()  # allowed paths that do not exist here, skipped

    @property
    def enforced(self) -> bool:
        return self.status is LandlockStatus.ENFORCED


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


# struct landlock_path_beneath_attr is packed: a u64 then an s32, 12 bytes.
_PATH_BENEATH = struct.Struct("=Qi")


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _rights_for(abi: int, added: Mapping[int, enum.IntFlag]) -> int:
    return sum(int(rights) for since, rights in added.items() if since <= abi)


def handled_rights(abi: int) -> tuple[FsAccess, NetAccess, Scope]:
    """Every filesystem right, network right and scope that Landlock ABI `abi` can restrict."""
    return (
        FsAccess(_rights_for(abi, FS_RIGHTS_ADDED)),
        NetAccess(_rights_for(abi, NET_RIGHTS_ADDED)),
        Scope(_rights_for(abi, SCOPES_ADDED)),
    )


def probe_landlock() -> LandlockReport:
    """Whether this kernel can enforce Landlock, and which ABI version it has; restricts nothing."""
    if sys.platform != "linux":
        return LandlockReport(LandlockStatus.UNSUPPORTED, 0, f"Landlock is a Linux feature; this is {sys.platform}")
    abi = _libc().syscall(
        ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    if abi < 0:
        code = ctypes.get_errno()
        if code == errno.EOPNOTSUPP:
            detail = "this kernel has Landlock but it is not enabled (landlock is missing from the lsm= boot parameter)"
            return LandlockReport(LandlockStatus.DISABLED, 0, detail)
        if code == errno.ENOSYS:
            detail = f"this kernel ({os.uname().release}) has no Landlock, which needs Linux 5.13 or later"
            return LandlockReport(LandlockStatus.UNSUPPORTED, 0, detail)
        return LandlockReport(LandlockStatus.UNSUPPORTED, 0, f"Landlock cannot be queried: {os.strerror(code)}")
    fs, net, scoped = handled_rights(abi)
    return LandlockReport(
        LandlockStatus.AVAILABLE,
        abi,
        f"Landlock ABI {abi} is available{_newer_abi_note(abi)}",
        handled_fs=fs,
        handled_net=net,
        scoped=scoped,
    )


def _newer_abi_note(abi: int) -> str:
    if abi <= NEWEST_KNOWN_ABI:
        return ""
    return f" (rights added after ABI {NEWEST_KNOWN_ABI} are not restricted)"


def python_read_only_paths() -> tuple[Path, ...]:
    """What the student's Python needs to read: its installation, the venv, its site-packages and this package.

    Not `sys.path` as a whole: under PYTHONPATH it holds the course repository, graders and solutions included.
    """
    folders = {
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        *site.getsitepackages(),
        os.path.dirname(os.path.abspath(__file__)),
    }
    return tuple(Path(folder) for folder in sorted(folders) if folder)


def student_read_only_paths() -> tuple[str, ...]:
    """Every folder and file a student's child reads to run Python, torch and matplotlib: system and Python."""
    return (*SYSTEM_READ_ONLY_PATHS, *(str(path) for path in python_read_only_paths()))


def restrict_filesystem(
    *, read_only: Iterable[str | os.PathLike[str]], read_write: Iterable[str | os.PathLike[str]]
) -> LandlockReport:
    """Restrict this process and its future children to reading below `read_only` and writing below `read_write`.

    Programs can be run only from `read_only` folders. Rights only add up: a folder given as read-only inside a
    read-write one stays writable. A path that does not exist is skipped and named in the report. Nothing else
    can be opened, listed, written, executed or linked to; TCP bind and connect (ABI 4) and signals and
    abstract UNIX sockets outside the sandbox (ABI 6) are denied too. Returns the report; the process is
    restricted only when its status is ENFORCED.
    """
    probe = probe_landlock()
    if probe.status is not LandlockStatus.AVAILABLE:
        return probe
    abi = probe.abi
    threads = _thread_count()
    if abi < TSYNC_ABI and threads > 1:
        return _failed(
            probe,
            f"this process has {threads} threads and Landlock ABI {abi} restricts only the calling thread: "
            "restrict before starting any thread",
        )
    libc = _libc()
    attr = _RulesetAttr(int(probe.handled_fs), int(probe.handled_net), int(probe.scoped))
    # The kernel reads only the fields its ABI knows: 8 bytes before ABI 4, 16 before ABI 6.
    size = 8 if abi < 4 else 16 if abi < 6 else ctypes.sizeof(attr)
    ruleset = libc.syscall(
        ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
    )
    if ruleset < 0:
        return _failed(probe, f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}")
    try:
        missing: list[str] = []
        rules = [(path, READ_ONLY_RIGHTS) for path in read_only]
        rules += [(path, READ_WRITE_RIGHTS) for path in read_write]
        for path, rights in rules:
            problem = _add_path_rule(libc, ruleset, os.fspath(path), FsAccess(rights & probe.handled_fs))
            if problem == "missing":
                missing.append(os.fspath(path))
            elif problem:
                return _failed(probe, problem)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)):
            return _failed(probe, f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")
        flags = LANDLOCK_RESTRICT_SELF_TSYNC if abi >= TSYNC_ABI else 0
        if libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(flags)):
            return _failed(probe, f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return LandlockReport(
        LandlockStatus.ENFORCED,
        abi,
        f"Landlock ABI {abi} enforced{_newer_abi_note(abi)}",
        handled_fs=probe.handled_fs,
        handled_net=probe.handled_net,
        scoped=probe.scoped,
        missing_paths=tuple(missing),
    )


def _add_path_rule(libc: ctypes.CDLL, ruleset: int, path: str, rights: FsAccess) -> str | None:
    """Allow `rights` below `path`: None when done, "missing" when it does not exist, else what went wrong."""
    try:
        descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return "missing"
    except OSError as error:
        return f"{path} cannot be opened to make a rule: {error.strerror}"
    try:
        if not stat.S_ISDIR(os.fstat(descriptor).st_mode):
            rights &= FILE_RIGHTS  # the kernel refuses folder rights on a file
        rule = ctypes.create_string_buffer(_PATH_BENEATH.pack(int(rights), descriptor), _PATH_BENEATH.size)
        result = libc.syscall(
            ctypes.c_long(SYS_LANDLOCK_ADD_RULE),
            ctypes.c_int(ruleset),
            ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
            rule,
            ctypes.c_uint32(0),
        )
        if result < 0:
            return f"landlock_add_rule for {path} failed: {os.strerror(ctypes.get_errno())}"
        return None
    finally:
        os.close(descriptor)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _failed(probe: LandlockReport, detail: str) -> LandlockReport:
    return LandlockReport(LandlockStatus.FAILED, probe.abi, f"Landlock ABI {probe.abi} was not enforced: {detail}")
