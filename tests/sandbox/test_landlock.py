"""Landlock confines a forked child to the folders it is given, and torch and matplotlib still work inside.

Each test forks a child of this process (torch and matplotlib already imported, as in the warm worker),
restricts it and reports what it could and could not do.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import matplotlib
import pytest
import torch
from repo_paths import REPO

matplotlib.use("Agg")
from forked_child import run_in_child, train_and_plot

from coursekit.sandbox import landlock, seccomp
from coursekit.sandbox.landlock import FsAccess, LandlockStatus, NetAccess, Scope

REPOSITORY = REPO
PROBE = landlock.probe_landlock()
needs_landlock = pytest.mark.skipif(PROBE.status is not LandlockStatus.AVAILABLE, reason=PROBE.detail)


def outcome_of(action: Any) -> object:
    """What an action did: its value, or the errno name of the OSError it raised."""
    try:
        return action()
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, str(error))


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """A session folder the child may write, a data folder it may only read, and a folder it must not see."""
    session, data, outside = tmp_path / "session", tmp_path / "data", tmp_path / "outside"
    for folder in (session, data, outside):
        folder.mkdir()
    (data / "temperatures.csv").write_text("t_c,t_u\n0.5,35.7\n")
    (outside / "grader_secret.txt").write_text("the hidden expected values")
    (session / "escape").symlink_to(outside / "grader_secret.txt")
    return {"session": session, "data": data, "outside": outside}


def restrict_to(folders: dict[str, Path]) -> landlock.LandlockReport:
    """What the sandbox will do: the system and Python read-only, the data read-only, the session writable."""
    os.environ["TMPDIR"] = str(folders["session"])
    tempfile.tempdir = None
    report = landlock.restrict_filesystem(
        read_only=[*landlock.student_read_only_paths(), folders["data"]],
        read_write=[folders["session"], *landlock.SYSTEM_READ_WRITE_PATHS],
    )
    assert report.status is LandlockStatus.ENFORCED, report.detail
    return report


def test_the_probe_says_plainly_what_this_kernel_has() -> None:
    print(f"Landlock here: {PROBE.status.value}, ABI {PROBE.abi}: {PROBE.detail}")
    assert PROBE.detail
    if PROBE.status is LandlockStatus.AVAILABLE:
        assert PROBE.abi >= 1
        assert (PROBE.handled_fs, PROBE.handled_net, PROBE.scoped) == landlock.handled_rights(PROBE.abi)
    else:
        assert PROBE.abi == 0


def test_every_right_of_each_abi_is_handled() -> None:
    abi_1 = FsAccess(0)
    for right in list(FsAccess)[:13]:
        abi_1 |= right
    rights = {abi: landlock.handled_rights(abi) for abi in range(1, 10)}
    assert rights[1] == (abi_1, NetAccess(0), Scope(0))
    assert rights[2][0] == abi_1 | FsAccess.REFER
    assert rights[3][0] == abi_1 | FsAccess.REFER | FsAccess.TRUNCATE
    assert rights[4][1] == NetAccess.BIND_TCP | NetAccess.CONNECT_TCP
    assert rights[5][0] == FsAccess(sum(FsAccess))
    assert rights[6] == (FsAccess(sum(FsAccess)), NetAccess(sum(NetAccess)), Scope(sum(Scope)))
    assert rights[7] == rights[8] == rights[9] == rights[6]


def test_an_unavailable_landlock_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    class KernelWithout:
        def __init__(self, code: int) -> None:
            self.code = code

        def syscall(self, *args: object) -> int:
            ctypes.set_errno(self.code)
            return -1

    monkeypatch.setattr(landlock.sys, "platform", "linux")
    for code, status, words in (
        (errno.ENOSYS, LandlockStatus.UNSUPPORTED, "has no Landlock"),
        (errno.EOPNOTSUPP, LandlockStatus.DISABLED, "not enabled"),
    ):
        monkeypatch.setattr(landlock, "_libc", lambda code=code: KernelWithout(code))
        report = landlock.restrict_filesystem(read_only=["/usr"], read_write=[])
        assert (report.status, report.abi, report.enforced) == (status, 0, False)
        assert words in report.detail
    monkeypatch.setattr(landlock.sys, "platform", "darwin")
    report = landlock.probe_landlock()
    assert report.status is LandlockStatus.UNSUPPORTED and "darwin" in report.detail


@needs_landlock
def test_outside_the_allowed_folders_nothing_can_be_read_or_listed(folders: dict[str, Path]) -> None:
    outside, data, session = folders["outside"], folders["data"], folders["session"]

    def probe_files() -> dict[str, object]:
        return {
            "read outside": outcome_of(lambda: (outside / "grader_secret.txt").read_text()),
            "list outside": outcome_of(lambda: os.listdir(outside)),
            "read through a link in the session": outcome_of(lambda: (session / "escape").read_text()),
            "read a solution": outcome_of(lambda: (REPOSITORY / "solutions" / "activations.py").read_text()[:0]),
            "list the repository": outcome_of(lambda: os.listdir(REPOSITORY)),
            "read /etc/passwd": outcome_of(lambda: Path("/etc/passwd").read_text()[:0]),
            "read /proc/1/cmdline": outcome_of(lambda: Path("/proc/1/cmdline").read_bytes()[:0]),
            "read the data": outcome_of(lambda: (data / "temperatures.csv").read_text()),
            "list the data": outcome_of(lambda: os.listdir(data)),
        }

    _, outcome = run_in_child(probe_files, before=lambda: restrict_to(folders))
    assert outcome == {
        "read outside": "EACCES",
        "list outside": "EACCES",
        "read through a link in the session": "EACCES",
        "read a solution": "EACCES",
        "list the repository": "EACCES",
        "read /etc/passwd": "EACCES",
        "read /proc/1/cmdline": "EACCES",
        "read the data": "t_c,t_u\n0.5,35.7\n",
        "list the data": ["temperatures.csv"],
    }
    # Without Landlock the same child reads everything: the refusals above are Landlock's.
    assert run_in_child(lambda: (outside / "grader_secret.txt").read_text())[1] == "the hidden expected values"


@needs_landlock
def test_a_read_only_folder_cannot_be_written_and_the_session_can(folders: dict[str, Path]) -> None:
    data, session = folders["data"], folders["session"]

    def write_files() -> dict[str, object]:
        def work_in_the_session() -> str:
            (session / "notes").mkdir()
            (session / "notes" / "a.txt").write_text("draft")
            (session / "notes" / "a.txt").rename(session / "notes" / "b.txt")
            with tempfile.NamedTemporaryFile(delete=True) as scratch:
                scratch.write(b"x")
            (session / "notes" / "b.txt").unlink()
            (session / "notes").rmdir()
            return "done"

        def run_a_program_it_wrote() -> int:
            program = session / "tool"
            program.write_bytes(Path("/usr/bin/true").read_bytes())
            program.chmod(0o755)
            return subprocess.run([str(program)], check=False).returncode

        return {
            "overwrite the data": outcome_of(lambda: (data / "temperatures.csv").write_text("0,0\n")),
            "create in the data": outcome_of(lambda: (data / "new.csv").write_text("0,0\n")),
            "remove the data": outcome_of(lambda: (data / "temperatures.csv").unlink()),
            "write below /usr": outcome_of(lambda: Path("/usr/planted").write_text("x")),
            "write the venv": outcome_of(lambda: (Path(landlock.sys.prefix) / "planted.pth").write_text("x")),
            "work in the session": outcome_of(work_in_the_session),
            "write /dev/null": outcome_of(lambda: Path("/dev/null").write_text("x")),
            "run a program it wrote": outcome_of(run_a_program_it_wrote),
            "run a system program": subprocess.run(["true"], check=False).returncode,
        }

    _, outcome = run_in_child(write_files, before=lambda: restrict_to(folders))
    assert outcome == {
        "overwrite the data": "EACCES",
        "create in the data": "EACCES",
        "remove the data": "EACCES",
        "write below /usr": "EACCES",
        "write the venv": "EACCES",
        "work in the session": "done",
        "write /dev/null": 1,
        "run a program it wrote": "EACCES",
        "run a system program": 0,
    }
    assert (data / "temperatures.csv").read_text() == "t_c,t_u\n0.5,35.7\n"


@needs_landlock
def test_torch_and_matplotlib_still_work_after_restricting(folders: dict[str, Path]) -> None:
    picture = folders["session"] / "fit.png"

    status, outcome = run_in_child(lambda: train_and_plot(picture), before=lambda: restrict_to(folders))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert outcome["last"] < outcome["first"] / 10
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@needs_landlock
@pytest.mark.skipif(PROBE.abi < 4, reason=f"TCP rights need Landlock ABI 4; this kernel has {PROBE.abi}")
def test_tcp_bind_and_connect_are_denied(folders: dict[str, Path]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def use_tcp() -> dict[str, object]:
            def connect() -> str:
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    return "connected"

            def bind() -> str:
                with socket.socket() as server:
                    server.bind(("127.0.0.1", 0))
                    return "bound"

            return {"connect": outcome_of(connect), "bind": outcome_of(bind)}

        assert run_in_child(use_tcp)[1] == {"connect": "connected", "bind": "bound"}
        _, outcome = run_in_child(use_tcp, before=lambda: restrict_to(folders))
    assert outcome == {"connect": "EACCES", "bind": "EACCES"}


@needs_landlock
@pytest.mark.skipif(PROBE.abi < 6, reason=f"scopes need Landlock ABI 6; this kernel has {PROBE.abi}")
def test_no_signal_or_abstract_socket_reaches_outside_the_sandbox(folders: dict[str, Path]) -> None:
    name = f"\0coursekit-landlock-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(name)
        listener.listen()

        def reach_out() -> dict[str, object]:
            def connect() -> str:
                with socket.socket(socket.AF_UNIX) as client:
                    client.connect(name)
                    return "connected"

            grandchild = os.fork()
            if grandchild == 0:
                time.sleep(30)
                os._exit(0)
            os.kill(grandchild, 9)
            os.waitpid(grandchild, 0)
            return {
                "signal the parent": outcome_of(lambda: os.kill(os.getppid(), 0)),
                "signal its own child": "sent",
                "connect to the parent's abstract socket": outcome_of(connect),
            }

        _, unrestricted = run_in_child(reach_out)
        _, restricted = run_in_child(reach_out, before=lambda: restrict_to(folders))
    assert unrestricted == {
        "signal the parent": None,
        "signal its own child": "sent",
        "connect to the parent's abstract socket": "connected",
    }
    assert restricted == {
        "signal the parent": "EPERM",
        "signal its own child": "sent",
        "connect to the parent's abstract socket": "EPERM",
    }


@needs_landlock
def test_landlock_and_the_syscall_filter_stack(folders: dict[str, Path]) -> None:
    try:
        seccomp.current_architecture()
    except seccomp.SeccompError as error:
        pytest.skip(str(error))

    def both() -> None:
        seccomp.install_student_filter()
        restrict_to(folders)

    def probe() -> dict[str, object]:
        return {
            "read outside": outcome_of(lambda: (folders["outside"] / "grader_secret.txt").read_text()),
            "internet socket": outcome_of(lambda: socket.socket(socket.AF_INET).close()),
            "write the session": outcome_of(lambda: (folders["session"] / "a.txt").write_text("x")),
            "tensor maths": float(torch.ones(3).sum()),
        }

    _, outcome = run_in_child(probe, before=both)
    assert outcome == {
        "read outside": "EACCES",
        "internet socket": "EPERM",
        "write the session": 1,
        "tensor maths": 3.0,
    }


@needs_landlock
def test_a_path_that_does_not_exist_is_skipped_and_named(tmp_path: Path) -> None:
    missing = tmp_path / "not-here"

    def restrict() -> list[object]:
        report = landlock.restrict_filesystem(read_only=[missing, "/usr"], read_write=[tmp_path])
        return [report.status.value, list(report.missing_paths)]

    assert run_in_child(restrict)[1] == ["enforced", [str(missing)]]


@needs_landlock
def test_a_process_with_threads_is_restricted_whole_or_not_at_all(folders: dict[str, Path]) -> None:
    outside = folders["outside"] / "grader_secret.txt"

    def restrict_with_a_thread_running() -> dict[str, object]:
        release = threading.Event()
        seen: list[object] = []

        def read_later() -> None:
            release.wait()
            seen.append(outcome_of(outside.read_text))

        thread = threading.Thread(target=read_later)
        thread.start()
        report = landlock.restrict_filesystem(read_only=["/usr"], read_write=[folders["session"]])
        release.set()
        thread.join()
        return {"status": report.status.value, "detail": report.detail, "other thread": seen[0]}

    _, outcome = run_in_child(restrict_with_a_thread_running)
    if PROBE.abi >= landlock.TSYNC_ABI:
        assert (outcome["status"], outcome["other thread"]) == ("enforced", "EACCES")
    else:
        assert (outcome["status"], outcome["other thread"]) == ("failed", "the hidden expected values")
        assert "restricts only the calling thread" in str(outcome["detail"])


@needs_landlock
def test_restricting_is_cheap(folders: dict[str, Path]) -> None:
    read_only = [*landlock.student_read_only_paths(), folders["data"]]

    def restrict_time_ms() -> float:
        start = time.perf_counter()
        report = landlock.restrict_filesystem(read_only=read_only, read_write=[folders["session"]])
        assert report.enforced
        return (time.perf_counter() - start) * 1000

    times = [run_in_child(restrict_time_ms)[1] for _ in range(50)]
    print(
        f"Landlock restrict ({len(read_only) + 1} paths): median {statistics.median(times):.3f} ms, "
        f"min {min(times):.3f}, max {max(times):.3f} (50 forked children)"
    )
    assert statistics.median(times) < 50
