"""Attack: reach the kernel's riskier interfaces from the sandbox (io_uring, keyrings, bpf, namespaces, mounts,
raw and netlink sockets, reading another process's memory)."""

import ctypes
import os
import platform
import socket

NUMBERS = {
    "x86_64": {
        "io_uring_setup": 425,
        "keyctl": 250,
        "add_key": 248,
        "bpf": 321,
        "perf_event_open": 298,
        "userfaultfd": 323,
        "unshare": 272,
        "mount": 165,
        "ptrace": 101,
        "process_vm_readv": 310,
        "clone3": 435,
    },
    "aarch64": {
        "io_uring_setup": 425,
        "keyctl": 219,
        "add_key": 217,
        "bpf": 280,
        "perf_event_open": 241,
        "userfaultfd": 282,
        "unshare": 97,
        "mount": 40,
        "ptrace": 117,
        "process_vm_readv": 270,
        "clone3": 435,
    },
}


def tanh(_):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    outcomes = {}
    buffer = ctypes.create_string_buffer(256)
    for name, number in NUMBERS[platform.machine()].items():
        if name == "unshare":
            result = libc.syscall(number, ctypes.c_ulong(0x10000000))  # CLONE_NEWUSER
        elif name == "mount":
            result = libc.syscall(number, b"none", b"/tmp", b"tmpfs", ctypes.c_ulong(0), None)
        elif name == "ptrace":
            result = libc.syscall(number, ctypes.c_long(16), ctypes.c_long(1), None, None)  # PTRACE_ATTACH pid 1
        else:
            result = libc.syscall(number, ctypes.c_ulong(0), buffer, ctypes.c_ulong(0), ctypes.c_ulong(0))
        outcomes[name] = "succeeded" if result >= 0 else os.strerror(ctypes.get_errno())
    for family in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"):
        try:
            socket.socket(getattr(socket, family), socket.SOCK_RAW if family == "AF_PACKET" else socket.SOCK_DGRAM)
            outcomes[family] = "succeeded"
        except OSError as error:
            outcomes[family] = os.strerror(error.errno or 0)
    return outcomes
