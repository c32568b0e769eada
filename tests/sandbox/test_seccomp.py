"""The student syscall filter refuses every call it lists, in an emulator and in the kernel, and breaks no course work.

Each kernel test forks a child of this process (torch and matplotlib already imported, as in the warm worker),
installs the filter there and reports back what the calls returned.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import pytest

matplotlib.use("Agg")
from forked_child import run_in_child, train_and_plot

from coursekit.sandbox import seccomp

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
ARCH: str | None
try:
    ARCH, UNSUPPORTED_REASON = seccomp.current_architecture(), ""
except seccomp.SeccompError as error:
    ARCH, UNSUPPORTED_REASON = None, str(error)
kernel = pytest.mark.skipif(ARCH is None, reason=f"no student filter here: {UNSUPPORTED_REASON}")
NUMBERS = seccomp.ARCHITECTURES[ARCH or "x86_64"].syscalls

CLONE_NEW_FLAG_NAMES = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
# What glibc's pthread_create passes to clone.
THREAD_FLAGS = 0x003D0F00
SIGCHLD = 17
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
# x86_64 syscalls the aarch64 kernel does not have.
X86_64_ONLY = frozenset({"iopl", "ioperm", "uselib"})
# The capabilities the kernel checks for the denied calls, by bit (linux/capability.h).
ADMINISTRATION_CAPABILITIES = {
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYSLOG": 34,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
}
# What the filter's rules compare: the syscalls checked by argument.
ARGUMENT_CHECKED = ("clone", "socket", "socketpair", "personality", "ioctl")


# -- running code in a filtered child ---------------------------------------------------------------------------


def in_child(function: Callable[[], Any], *, install: bool = True) -> tuple[int, Any]:
    """Run `function` in a forked child, after installing the filter unless told not to."""
    return run_in_child(function, before=seccomp.install_student_filter if install else None)


def raw_syscall(number: int, *args: int) -> tuple[int, int]:
    """(result, errno) of a syscall made directly, bypassing libc's own checks."""
    padded = [*args, *([0] * (6 - len(args)))]
    ctypes.set_errno(0)
    result = LIBC.syscall(ctypes.c_long(number), *(ctypes.c_long(value) for value in padded))
    return result, ctypes.get_errno()


def bogus_calls() -> dict[str, list[int]]:
    """Every denied or unsupported syscall with all-ones arguments: invalid for the kernel, harmless even as root."""
    calls = {}
    for name in (*seccomp.DENIED_SYSCALLS, *seccomp.UNSUPPORTED_SYSCALLS):
        if name in NUMBERS:
            calls[name] = list(raw_syscall(NUMBERS[name], *([-1] * 6)))
    return calls


def effective_capabilities() -> int:
    match = re.search(r"^CapEff:\s*([0-9a-f]+)$", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1), 16) if match else 0


# -- the program, emulated -------------------------------------------------------------------------------------


def run_filter(program: bytes, *, arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate a classic-BPF seccomp program on one struct seccomp_data, as the kernel does."""
    padded = [*args, *([0] * (6 - len(args)))]
    data = struct.pack("<IIQ6Q", nr, arch, 0, *(value & 0xFFFFFFFFFFFFFFFF for value in padded))
    instructions = [struct.unpack_from("=HBBI", program, offset) for offset in range(0, len(program), 8)]
    accumulator, pc = 0, 0
    while True:
        code, jt, jf, k = instructions[pc]
        if code == seccomp.BPF_LD_W_ABS:
            (accumulator,) = struct.unpack_from("<I", data, k)
            pc += 1
        elif code == seccomp.BPF_RET_K:
            return k
        elif code in (seccomp.BPF_JEQ_K, seccomp.BPF_JGT_K, seccomp.BPF_JGE_K, seccomp.BPF_JSET_K):
            taken = {
                seccomp.BPF_JEQ_K: accumulator == k,
                seccomp.BPF_JGT_K: accumulator > k,
                seccomp.BPF_JGE_K: accumulator >= k,
                seccomp.BPF_JSET_K: bool(accumulator & k),
            }[code]
            pc += 1 + (jt if taken else jf)
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x} at {pc}")


EPERM = seccomp.SECCOMP_RET_ERRNO | errno.EPERM
ENOSYS = seccomp.SECCOMP_RET_ERRNO | errno.ENOSYS
ALLOW = seccomp.SECCOMP_RET_ALLOW
KILL = seccomp.SECCOMP_RET_KILL_PROCESS


@pytest.mark.parametrize("arch_name", sorted(seccomp.ARCHITECTURES))
def test_the_program_denies_and_allows_what_it_says(arch_name: str) -> None:
    table = seccomp.ARCHITECTURES[arch_name]
    program = seccomp.assemble(seccomp.student_filter_instructions(arch_name))
    numbers = table.syscalls

    def decide(name: str | int, *args: int) -> int:
        nr = numbers[name] if isinstance(name, str) else name
        return run_filter(program, arch=table.audit_arch, nr=nr, args=args)

    for name in seccomp.DENIED_SYSCALLS:
        if name in numbers:
            assert decide(name) == EPERM, name
    assert decide("clone3") == ENOSYS
    read = {"x86_64": 0, "aarch64": 63}[arch_name]
    assert decide(read, 3, 0, 4096) == ALLOW
    assert decide(numbers["seccomp"]) == ALLOW
    # clone: threads and fork pass, any namespace flag does not, whatever else is set.
    assert decide("clone", THREAD_FLAGS) == ALLOW
    assert decide("clone", SIGCHLD) == ALLOW
    for flag_name, flag in CLONE_NEW_FLAG_NAMES.items():
        assert decide("clone", flag | SIGCHLD) == EPERM, flag_name
        assert decide("clone", flag | THREAD_FLAGS | (1 << 40)) == EPERM, flag_name
    # sockets: AF_UNIX only; high bits of the int argument do not smuggle another family in.
    for family in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK, socket.AF_PACKET, 0, 2**31):
        assert decide("socket", family, socket.SOCK_STREAM) == EPERM, family
        assert decide("socketpair", family, socket.SOCK_STREAM) == EPERM, family
    assert decide("socket", socket.AF_UNIX, socket.SOCK_STREAM) == ALLOW
    assert decide("socketpair", socket.AF_UNIX, socket.SOCK_STREAM) == ALLOW
    assert decide("personality", 0xFFFFFFFF) == ALLOW
    assert decide("personality", 0) == ALLOW
    assert decide("personality", 0x0040000) == EPERM  # ADDR_NO_RANDOMIZE
    assert decide("personality", 0x0400000) == EPERM  # READ_IMPLIES_EXEC
    assert decide("ioctl", 0, 0x5412) == EPERM  # TIOCSTI
    assert decide("ioctl", 0, 0x541C) == EPERM  # TIOCLINUX
    assert decide("ioctl", 0, 0x5401) == ALLOW  # TCGETS
    # Interfaces newer than the reviewed table, and -1 (no syscall), fail with ENOSYS.
    assert decide(seccomp.LAST_REVIEWED_SYSCALL + 1) == ENOSYS
    assert decide(0xFFFFFFFF) == ENOSYS
    # Another ABI's calls kill the process.
    for foreign in (0x40000003, 0xC00000B7 if arch_name == "x86_64" else 0xC000003E, 0x40000028):
        assert run_filter(program, arch=foreign, nr=read) == KILL
    if table.x32_syscall_bit is not None:
        assert decide(table.x32_syscall_bit | 39) == KILL  # x32 getpid
        assert decide(table.x32_syscall_bit | numbers["ptrace"]) == KILL


def test_every_listed_syscall_has_a_number_on_each_architecture() -> None:
    for arch_name, table in seccomp.ARCHITECTURES.items():
        wanted = {*seccomp.DENIED_SYSCALLS, *seccomp.UNSUPPORTED_SYSCALLS, *ARGUMENT_CHECKED, "seccomp"}
        if arch_name == "aarch64":
            wanted -= X86_64_ONLY
        assert wanted <= set(table.syscalls), (arch_name, wanted - set(table.syscalls))
        assert max(table.syscalls.values()) <= seccomp.LAST_REVIEWED_SYSCALL


def header_numbers(path: Path) -> dict[str, int]:
    text = path.read_text()
    return {name: int(number) for name, number in re.findall(r"#define __NR(?:3264)?_(\w+)\s+(\d+)\b", text)}


@pytest.mark.parametrize(
    ("arch_name", "header"),
    [
        ("x86_64", ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h")),
        ("aarch64", ("/usr/include/asm-generic/unistd.h",)),
    ],
)
def test_the_tables_match_the_kernel_headers(arch_name: str, header: tuple[str, ...]) -> None:
    found = [Path(path) for path in header if Path(path).exists()]
    if not found:
        pytest.skip(f"{header[0]} is not installed (linux-libc-dev)")
    known = header_numbers(found[0])
    table = seccomp.ARCHITECTURES[arch_name].syscalls
    # Headers older than a syscall simply lack it; every syscall they have must agree.
    compared = {name: known[name] for name in table if name in known}
    assert compared == {name: table[name] for name in compared}
    assert len(compared) >= len(table) - 2


def test_an_unknown_architecture_is_refused_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(seccomp.SeccompError, match=r"supports x86_64, aarch64"):
        seccomp.student_filter_instructions("riscv64")
    monkeypatch.setattr(seccomp.platform, "machine", lambda: "riscv64")
    with pytest.raises(seccomp.SeccompError, match=r"supports 64-bit Linux on x86_64, aarch64; this is \w+ riscv64"):
        seccomp.install_student_filter()


# -- the filter, in the kernel ---------------------------------------------------------------------------------


@kernel
def test_every_denied_syscall_fails_with_eperm_in_the_kernel() -> None:
    status, result = in_child(lambda: {"mode": seccomp_mode(), "calls": bogus_calls()})
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert result["mode"] == "2"  # SECCOMP_MODE_FILTER
    calls = result["calls"]
    assert set(calls) == {name for name in (*seccomp.DENIED_SYSCALLS, *seccomp.UNSUPPORTED_SYSCALLS) if name in NUMBERS}
    wrong = {
        name: errno.errorcode.get(code, code)
        for name, (value, code) in calls.items()
        if (value, code) != (-1, errno.ENOSYS if name in seccomp.UNSUPPORTED_SYSCALLS else errno.EPERM)
    }
    assert not wrong, f"these calls were not refused by the filter: {wrong}"


@kernel
def test_without_the_filter_the_same_calls_fail_otherwise_so_the_filter_is_what_refused_them() -> None:
    needed = sum(1 << bit for bit in ADMINISTRATION_CAPABILITIES.values())
    if effective_capabilities() & needed != needed:
        pytest.skip("without the administration capabilities the kernel itself answers EPERM to some of these calls")
    _, calls = in_child(bogus_calls, install=False)
    assert not [name for name, (_, code) in calls.items() if code == errno.EPERM]


def seccomp_mode() -> str:
    match = re.search(r"^Seccomp:\s*(\d)$", Path("/proc/self/status").read_text(), re.MULTILINE)
    return match.group(1) if match else "?"


@kernel
def test_only_unix_sockets_can_be_made() -> None:
    def sockets() -> dict[str, object]:
        outcome: dict[str, object] = {}
        for family in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"):
            try:
                socket.socket(getattr(socket, family), socket.SOCK_DGRAM if family == "AF_NETLINK" else 0)
                outcome[family] = "created"
            except OSError as error:
                outcome[family] = error.errno
        try:
            socket.socketpair(socket.AF_INET)
            outcome["socketpair AF_INET"] = "created"
        except OSError as error:
            outcome["socketpair AF_INET"] = error.errno
        left, right = socket.socketpair(socket.AF_UNIX)
        left.sendall(b"ping")
        outcome["socketpair AF_UNIX"] = right.recv(4).decode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
            outcome["socket AF_UNIX"] = unix.fileno() >= 0
        return outcome

    _, outcome = in_child(sockets)
    assert outcome == {
        "AF_INET": errno.EPERM,
        "AF_INET6": errno.EPERM,
        "AF_NETLINK": errno.EPERM,
        "AF_PACKET": errno.EPERM,
        "socketpair AF_INET": errno.EPERM,
        "socketpair AF_UNIX": "ping",
        "socket AF_UNIX": True,
    }


@kernel
def test_no_new_namespace_can_be_made() -> None:
    def namespaces() -> dict[str, object]:
        outcome: dict[str, object] = {"unshare CLONE_NEWUSER": raw_syscall(NUMBERS["unshare"], 0x10000000)}
        for flag_name in ("CLONE_NEWNS", "CLONE_NEWUSER", "CLONE_NEWPID", "CLONE_NEWNET"):
            result = raw_syscall(NUMBERS["clone"], CLONE_NEW_FLAG_NAMES[flag_name] | SIGCHLD, 0, 0, 0, 0)
            if result[0] == 0:  # a child the filter let through: never back into this test
                os._exit(0)
            outcome[f"clone {flag_name}"] = result
        with open("/proc/self/ns/net", "rb") as namespace:
            outcome["setns"] = raw_syscall(NUMBERS["setns"], namespace.fileno(), 0)
        return outcome

    _, outcome = in_child(namespaces)
    assert outcome == {
        "unshare CLONE_NEWUSER": [-1, errno.EPERM],
        "clone CLONE_NEWNS": [-1, errno.EPERM],
        "clone CLONE_NEWUSER": [-1, errno.EPERM],
        "clone CLONE_NEWPID": [-1, errno.EPERM],
        "clone CLONE_NEWNET": [-1, errno.EPERM],
        "setns": [-1, errno.EPERM],
    }


@kernel
def test_fork_threads_and_subprocesses_still_work() -> None:
    def processes() -> dict[str, object]:
        grandchild = os.fork()
        if grandchild == 0:
            os._exit(7)
        _, status = os.waitpid(grandchild, 0)
        seen: list[int] = []
        threads = [threading.Thread(target=seen.append, args=(number,)) for number in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {
            "fork": os.WEXITSTATUS(status),
            "threads": sorted(seen),
            "subprocess": subprocess.run(["true"], check=False).returncode,
            "clone3": raw_syscall(NUMBERS["clone3"], 0, 0),
        }

    _, outcome = in_child(processes)
    assert outcome == {"fork": 7, "threads": [0, 1, 2, 3], "subprocess": 0, "clone3": [-1, errno.ENOSYS]}


@kernel
def test_a_sibling_cannot_be_ptraced() -> None:
    sibling = os.fork()
    if sibling == 0:
        time.sleep(60)
        os._exit(0)
    try:

        def attach() -> list[int]:
            result = raw_syscall(NUMBERS["ptrace"], PTRACE_ATTACH, sibling, 0, 0)
            if result[0] == 0:
                os.waitpid(sibling, 0)
                raw_syscall(NUMBERS["ptrace"], PTRACE_DETACH, sibling, 0, 0)
            return list(result)

        _, unfiltered = in_child(attach, install=False)
        _, filtered = in_child(attach)
    finally:
        os.kill(sibling, signal.SIGKILL)
        os.waitpid(sibling, 0)
    assert filtered == [-1, errno.EPERM]
    if unfiltered[0] != 0:
        pytest.skip(f"ptrace is refused here even without the filter ({errno.errorcode[unfiltered[1]]})")


@kernel
def test_io_uring_cannot_be_set_up() -> None:
    def setup() -> list[int]:
        params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
        result, code = raw_syscall(NUMBERS["io_uring_setup"], 8, ctypes.addressof(params))
        if result >= 0:
            os.close(result)
        return [min(result, 0), code]

    _, unfiltered = in_child(setup, install=False)
    _, filtered = in_child(setup)
    assert filtered == [-1, errno.EPERM]
    if unfiltered[0] != 0:
        pytest.skip(f"io_uring is off here even without the filter ({errno.errorcode[unfiltered[1]]})")


@kernel
def test_the_filter_covers_threads_started_before_it() -> None:
    def from_an_older_thread() -> object:
        ready, go = threading.Event(), threading.Event()
        outcome: list[object] = []

        def make_socket() -> None:
            ready.set()
            go.wait()
            try:
                socket.socket(socket.AF_INET).close()
                outcome.append("created")
            except OSError as error:
                outcome.append(error.errno)

        thread = threading.Thread(target=make_socket)
        thread.start()
        ready.wait()
        seccomp.install_student_filter()
        go.set()
        thread.join()
        return outcome[0]

    _, outcome = in_child(from_an_older_thread, install=False)
    assert outcome == errno.EPERM


@pytest.mark.skipif(ARCH != "x86_64", reason="x32 and i386 syscalls exist only on x86_64")
def test_a_syscall_of_another_abi_kills_the_process() -> None:
    x32_getpid = seccomp.ARCHITECTURES["x86_64"].x32_syscall_bit | 39  # type: ignore[operator]
    status, _ = in_child(lambda: raw_syscall(x32_getpid))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS

    def i386_getpid() -> int:
        # mov eax, 20 (i386 getpid); int 0x80; ret
        code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        code.write(bytes.fromhex("b814000000cd80c3"))
        address = ctypes.addressof(ctypes.c_char.from_buffer(code))
        return int(ctypes.CFUNCTYPE(ctypes.c_long)(address)()) & 0xFFFFFFFF

    status, pid = in_child(i386_getpid, install=False)
    if not (os.WIFEXITED(status) and pid):
        pytest.skip("this kernel runs no i386 syscalls (no IA32 emulation)")
    status, _ = in_child(i386_getpid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


@kernel
def test_course_work_runs_under_the_filter(tmp_path: Path) -> None:
    picture = tmp_path / "fit.png"

    status, outcome = in_child(lambda: train_and_plot(picture))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert outcome["last"] < outcome["first"] / 10 and outcome["finite"]
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def install_time_ms() -> float:
    start = time.perf_counter()
    seccomp.install_student_filter()
    return (time.perf_counter() - start) * 1000


@kernel
def test_installing_the_filter_is_cheap() -> None:
    for cached in (seccomp.student_filter_program, seccomp._installable_filter, seccomp._libc):
        cached.cache_clear()
    cold = [in_child(install_time_ms, install=False)[1] for _ in range(50)]
    # As the warm worker does: assemble once, then every forked child only installs.
    seccomp.prepare_student_filter()
    warm = [in_child(install_time_ms, install=False)[1] for _ in range(50)]
    for label, times in (("assembled in the child", cold), ("assembled before fork", warm)):
        print(
            f"seccomp install, {label}: median {statistics.median(times):.3f} ms, "
            f"min {min(times):.3f}, max {max(times):.3f} (50 forked children)"
        )
    # Measured at a median of about 0.3 ms (assembled before fork) and 1.2 ms (in the child) on a 2-core CI
    # machine; the bound only catches a pathological regression.
    assert statistics.median(warm) < 20
