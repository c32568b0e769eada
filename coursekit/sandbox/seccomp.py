"""The student's syscall filter: a seccomp-BPF program installed in the child right before student code runs.

The filter is a denylist, so torch, matplotlib, threads and fork work unchanged, of the kernel interfaces that
turn a sandboxed process into an attacker of its sandbox: tracing other processes (ptrace, process_vm_*,
pidfd_getfd, kcmp), io_uring (it performs file and network operations the filter never sees), kernel keys,
bpf, perf, userfaultfd, mounting and the new mount API, new namespaces (unshare, setns, clone with a CLONE_NEW*
flag), loading kernels and modules, file handles (open_by_handle_at, the classic container escape), injecting
terminal input (ioctl TIOCSTI, TIOCLINUX), host administration (reboot, swap, quotas, accounting, host and
domain names, I/O ports, the kernel log), and every socket family but AF_UNIX. Denied calls fail with EPERM,
an error Python and torch handle, rather than killing the process. clone3 fails with ENOSYS, because its flags
sit in memory a filter cannot read; libc then falls back to clone, whose flags the filter inspects. Syscall
numbers above the newest one this table knows also fail with ENOSYS, so an interface added to a future kernel
is refused until someone reviews it; libc treats ENOSYS as "kernel too old" and falls back.

A syscall from another ABI (i386 or x32 on x86_64, AArch32 on aarch64) kills the process: its numbers differ,
so it would slip past every rule, and the course's code never makes one.

The program is assembled here by hand and installed with the seccomp(2) syscall through ctypes, rather than
with libseccomp: the policy is a few dozen comparisons, the only Python binding that needs no compiler
(pyseccomp, ctypes over libseccomp.so.2) has had no release since January 2021, and a program built here
needs no native library at all, on Debian, Ubuntu, Alpine or a slim container alike. The tests run every rule
both in an emulator and against the kernel.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# Syscalls every student process is refused with EPERM.
DENIED_SYSCALLS: tuple[str, ...] = (
    # reaching into other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "kcmp",
    # io_uring: its operations bypass this filter
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # kernel keyrings, eBPF, perf, userfaultfd: kernel attack surface a course never needs
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    # mounts, old and new API
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "open_tree_attr",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # namespaces (clone's namespace flags are checked separately)
    "unshare",
    "setns",
    # kernels and kernel modules
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    # file handles open any file of a mounted file system, whatever the path's permissions
    "open_by_handle_at",
    "name_to_handle_at",
    # host administration
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "fanotify_init",
    "sethostname",
    "setdomainname",
    "syslog",
    "iopl",
    "ioperm",
    "uselib",
)

# Syscalls refused with ENOSYS: libc then falls back to a call the filter can inspect.
UNSUPPORTED_SYSCALLS: tuple[str, ...] = ("clone3",)

# The one socket family a student may create: what the worker's own channels and socketpair use.
AF_UNIX = 1
# clone(2) flags that create a namespace. CLONE_NEWTIME (0x80) is left out: in clone's flags that bit is part
# of the exit signal, and the kernel accepts it only through clone3 and unshare, both refused.
CLONE_NEW_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
# personality(2) values allowed: Linux's default and the query. Others turn off address randomisation
# (ADDR_NO_RANDOMIZE) or make every readable page executable (READ_IMPLIES_EXEC).
ALLOWED_PERSONALITIES = (0x0, 0xFFFFFFFF)
# ioctl(2) requests that push input into a terminal, for another process of the terminal's owner to run.
DENIED_IOCTLS = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX
# The newest syscall number the tables below were reviewed against (open_tree_attr, Linux 6.15); the two
# architectures share numbers from 403 on. Anything newer fails with ENOSYS until it is reviewed.
LAST_REVIEWED_SYSCALL = 467


@dataclass(frozen=True)
class Architecture:
    """One ABI the filter supports: its audit identifier and its syscall numbers."""

    name: str
    audit_arch: int
    syscalls: Mapping[str, int]
    # x86_64 only: the bit that marks an x32 syscall, which shares x86_64's audit identifier.
    x32_syscall_bit: int | None = None


# Numbers from the kernel's arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h;
# tests/sandbox/test_seccomp.py compares them with the installed kernel headers where those exist.
_X86_64_SYSCALLS = {
    "ioctl": 16,
    "socket": 41,
    "socketpair": 53,
    "clone": 56,
    "ptrace": 101,
    "syslog": 103,
    "uselib": 134,
    "personality": 135,
    "pivot_root": 155,
    "chroot": 161,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "seccomp": 317,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
}
_AARCH64_SYSCALLS = {
    "lookup_dcookie": 18,
    "ioctl": 29,
    "umount2": 39,
    "mount": 40,
    "pivot_root": 41,
    "chroot": 51,
    "quotactl": 60,
    "acct": 89,
    "personality": 92,
    "unshare": 97,
    "kexec_load": 104,
    "init_module": 105,
    "delete_module": 106,
    "syslog": 116,
    "ptrace": 117,
    "reboot": 142,
    "sethostname": 161,
    "setdomainname": 162,
    "socket": 198,
    "socketpair": 199,
    "add_key": 217,
    "request_key": 218,
    "keyctl": 219,
    "clone": 220,
    "swapon": 224,
    "swapoff": 225,
    "perf_event_open": 241,
    "fanotify_init": 262,
    "name_to_handle_at": 264,
    "open_by_handle_at": 265,
    "setns": 268,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "finit_module": 273,
    "seccomp": 277,
    "bpf": 280,
    "userfaultfd": 282,
    "kexec_file_load": 294,
}
# Numbered alike on every architecture (Linux 5.1 and later).
_UNIFIED_SYSCALLS = {
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
    "quotactl_fd": 443,
    "open_tree_attr": 467,
}

ARCHITECTURES: Mapping[str, Architecture] = {
    "x86_64": Architecture(
        name="x86_64",
        audit_arch=0xC000003E,  # AUDIT_ARCH_X86_64
        syscalls={**_X86_64_SYSCALLS, **_UNIFIED_SYSCALLS},
        x32_syscall_bit=0x40000000,
    ),
    # aarch64 has no iopl, ioperm or uselib.
    "aarch64": Architecture(
        name="aarch64",
        audit_arch=0xC00000B7,  # AUDIT_ARCH_AARCH64
        syscalls={**_AARCH64_SYSCALLS, **_UNIFIED_SYSCALLS},
    ),
}

# seccomp(2) and BPF constants (linux/seccomp.h, linux/filter.h, linux/bpf_common.h).
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGT_K = 0x25
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian on both).
OFFSET_NR = 0
OFFSET_ARCH = 4


def argument_offset(index: int) -> int:
    """Offset of the low 32 bits of syscall argument `index`.

    Every argument the filter reads is 32 bits wide to the kernel: socket's family, ioctl's request and
    personality's value are ints, and of clone's flags the kernel reads only the low half.
    """
    return 16 + 8 * index


class SeccompError(RuntimeError):
    """The filter cannot be built or installed here (another architecture, a kernel without seccomp)."""


@dataclass(frozen=True)
class Instruction:
    """One classic-BPF instruction; `true`/`false` name jump targets until the program is assembled."""

    code: int
    k: int = 0
    true: str | None = None
    false: str | None = None
    label: str | None = None


def _load(offset: int) -> Instruction:
    return Instruction(BPF_LD_W_ABS, offset)


def _jump(code: int, k: int, *, true: str | None = None, false: str | None = None) -> Instruction:
    return Instruction(code, k, true=true, false=false)


def _return(action: int, *, label: str | None = None) -> Instruction:
    return Instruction(BPF_RET_K, action, label=label)


def current_architecture() -> str:
    """The running process's ABI name, or SeccompError naming the supported ones."""
    machine = platform.machine()
    if sys.platform != "linux" or machine not in ARCHITECTURES or struct.calcsize("P") != 8:
        supported = ", ".join(ARCHITECTURES)
        raise SeccompError(
            f"the student syscall filter supports 64-bit Linux on {supported}; this is {sys.platform} "
            f"{machine} with {struct.calcsize('P') * 8}-bit pointers"
        )
    return machine


def student_filter_instructions(arch: str) -> list[Instruction]:
    """The student filter for `arch`, with symbolic jumps (see `assemble`)."""
    if arch not in ARCHITECTURES:
        raise SeccompError(f"no syscall table for {arch!r}: the student filter supports {', '.join(ARCHITECTURES)}")
    table = ARCHITECTURES[arch]
    numbers = table.syscalls
    program = [
        _load(OFFSET_ARCH),
        _jump(BPF_JEQ_K, table.audit_arch, false="kill"),
        _load(OFFSET_NR),
        _jump(BPF_JGT_K, LAST_REVIEWED_SYSCALL, true="beyond_table"),
    ]
    program += [_jump(BPF_JEQ_K, numbers[name], true="deny") for name in DENIED_SYSCALLS if name in numbers]
    program += [_jump(BPF_JEQ_K, numbers[name], true="unsupported") for name in UNSUPPORTED_SYSCALLS]
    program += [
        _jump(BPF_JEQ_K, numbers["clone"], true="clone"),
        _jump(BPF_JEQ_K, numbers["socket"], true="socket"),
        _jump(BPF_JEQ_K, numbers["socketpair"], true="socket"),
        _jump(BPF_JEQ_K, numbers["personality"], true="personality"),
        _jump(BPF_JEQ_K, numbers["ioctl"], true="ioctl"),
        _return(SECCOMP_RET_ALLOW),
        # clone(flags, ...): refuse any namespace flag.
        Instruction(BPF_LD_W_ABS, argument_offset(0), label="clone"),
        _jump(BPF_JSET_K, CLONE_NEW_FLAGS, true="deny"),
        _return(SECCOMP_RET_ALLOW),
        # socket(family, ...), socketpair(family, ...): AF_UNIX only.
        Instruction(BPF_LD_W_ABS, argument_offset(0), label="socket"),
        _jump(BPF_JEQ_K, AF_UNIX, true="allow", false="deny"),
        Instruction(BPF_LD_W_ABS, argument_offset(0), label="personality"),
        *[_jump(BPF_JEQ_K, value, true="allow") for value in ALLOWED_PERSONALITIES],
        _return(SECCOMP_RET_ERRNO | errno.EPERM),
        # ioctl(fd, request, ...)
        Instruction(BPF_LD_W_ABS, argument_offset(1), label="ioctl"),
        *[_jump(BPF_JEQ_K, request, true="deny") for request in DENIED_IOCTLS],
        _return(SECCOMP_RET_ALLOW),
    ]
    if table.x32_syscall_bit is None:
        program.append(_return(SECCOMP_RET_ERRNO | errno.ENOSYS, label="beyond_table"))
    else:
        # x32 syscalls carry x86_64's audit identifier and this bit; -1 is no syscall at all (ENOSYS).
        program.append(Instruction(BPF_JEQ_K, 0xFFFFFFFF, label="beyond_table", true="unsupported"))
        program.append(_jump(BPF_JGE_K, table.x32_syscall_bit, true="kill", false="unsupported"))
    program += [
        _return(SECCOMP_RET_ALLOW, label="allow"),
        _return(SECCOMP_RET_ERRNO | errno.EPERM, label="deny"),
        _return(SECCOMP_RET_ERRNO | errno.ENOSYS, label="unsupported"),
        _return(SECCOMP_RET_KILL_PROCESS, label="kill"),
    ]
    return program


def assemble(program: list[Instruction]) -> bytes:
    """The program as an array of struct sock_filter, jump labels turned into forward offsets."""
    labels = {instruction.label: index for index, instruction in enumerate(program) if instruction.label}
    encoded = bytearray()
    for index, instruction in enumerate(program):
        offsets = []
        for target in (instruction.true, instruction.false):
            if target is None:
                offsets.append(0)
                continue
            offset = labels[target] - index - 1
            if not 0 <= offset <= 255:
                raise SeccompError(f"BPF jump from {index} to {target} is out of range ({offset})")
            offsets.append(offset)
        encoded += struct.pack("=HBBI", instruction.code, offsets[0], offsets[1], instruction.k)
    return bytes(encoded)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


@functools.cache
def student_filter_program() -> bytes:
    """This machine's assembled student filter; call it in the warm worker so each forked child only installs."""
    return assemble(student_filter_instructions(current_architecture()))


@functools.cache
def _installable_filter() -> tuple[_SockFprog, ctypes.Array[ctypes.c_char], int]:
    """The filter as seccomp(2) takes it, its buffer (kept alive with it) and this machine's seccomp number."""
    program = student_filter_program()
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    return fprog, buffer, ARCHITECTURES[current_architecture()].syscalls["seccomp"]


def prepare_student_filter() -> None:
    """Build the filter now, in the warm worker, so that each forked child pays only for the syscalls."""
    _installable_filter()
    _libc()


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    return libc


def install_student_filter() -> None:
    """Set no_new_privs and install the student filter on every thread of this process and its future children.

    Raises SeccompError on an unsupported architecture or a kernel that refuses the filter; nothing is
    installed then.
    """
    fprog, _, seccomp_syscall = _installable_filter()
    libc = _libc()
    # prctl is variadic: every argument passed as a full-width unsigned long.
    no_new_privs_args = (ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, *no_new_privs_args) != 0:
        raise SeccompError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")
    result = libc.syscall(
        ctypes.c_long(seccomp_syscall),
        ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
        ctypes.c_ulong(SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if result < 0:
        raise SeccompError(f"the kernel refused the student syscall filter: {os.strerror(ctypes.get_errno())}")
    if result > 0:
        raise SeccompError(f"the student syscall filter could not be applied to thread {result}")
