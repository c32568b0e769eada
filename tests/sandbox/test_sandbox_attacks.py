"""Real malicious hand-ins (tests/hostile/handins/<name>/activations.py) run through both isolation tiers.

Each test runs twice: in bubblewrap's sandbox, and in the uid tier (root without namespaces, as under Docker
or on Gradescope), forced by a stand-in `bwrap` that fails the way bubblewrap fails there. Each asserts that the
attack failed inside and checks from the trusted side that nothing happened: no file written, no process left,
no secret returned, other slots unharmed. Where the tiers stop an attack by different means, the expected
failure differs (a file that does not exist in the sandbox is one Landlock refuses in the uid tier).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from repo_paths import HOSTILE_HANDINS, REPO
from stand_ins import failing_bwrap

from coursekit.config import Limits
from coursekit.sandbox import bwrap
from coursekit.sandbox.pool import WorkerPool, uid_tier_problem
from coursekit.sandbox.student import StudentCrash, StudentError, StudentTimeout

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(bwrap.bwrap_problem() is not None, reason=f"no sandbox here: {bwrap.bwrap_problem()}"),
]
TIERS = [
    pytest.param("bwrap", id="bwrap"),
    pytest.param(
        "uid",
        id="uid",
        marks=pytest.mark.skipif(uid_tier_problem() is not None, reason=f"no uid tier here: {uid_tier_problem()}"),
    ),
]

ATTACKS = HOSTILE_HANDINS
REPOSITORY = REPO
PROBES_FILE = REPOSITORY / "graders" / "probes.py"
LIMITS = Limits(time_seconds=3, memory_mb=1024, processes=32, output_kb=8, file_size_mb=4, open_files=64)


@contextlib.contextmanager
def tier_pool(tier: str, scratch: Path, *, limits: Limits = LIMITS, slots: int = 2) -> Iterator[WorkerPool]:
    """A pool of `tier`; for the uid tier, bubblewrap on PATH fails as it does in a Docker container."""
    if tier == "bwrap":
        with WorkerPool(
            limits=limits, scratch_dir=scratch, slots=slots, isolation="bwrap", probes_file=PROBES_FILE
        ) as pool:
            yield pool
        return
    stand_in = failing_bwrap(scratch / "docker-bin")
    # The tier is chosen when the pool is made; only then must bubblewrap fail.
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{stand_in}:{path}"
    bwrap.bwrap_problem.cache_clear()
    try:
        pool = WorkerPool(limits=limits, scratch_dir=scratch, slots=slots, probes_file=PROBES_FILE)
    finally:
        os.environ["PATH"] = path
        bwrap.bwrap_problem.cache_clear()
    with pool:
        assert pool.tier == "uid"
        yield pool


@pytest.fixture(scope="module", params=TIERS)
def pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    with tier_pool(request.param, tmp_path_factory.mktemp("scratch")) as pool:
        yield pool


def attack(pool: WorkerPool, name: str, *args: object, slot: int = 0) -> object:
    """Run the attack's tanh(*args) in a fresh session; its result, or the StudentError it raised."""
    with pool.session(slot=slot, handin_dir=ATTACKS / name, part="activations") as student:
        try:
            return student.run("call", function="activations.tanh", args=list(args), kwargs={})["result"]
        except StudentError as error:
            return error


def processes_with(marker: str) -> list[int]:
    """Processes carrying `marker` in their command line, or its last 15 characters as their name."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                named = (entry / "comm").read_text().strip() == marker[-15:]
                if named or marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def assert_slot_works(pool: WorkerPool, slot: int = 0) -> None:
    with pool.session(slot=slot, handin_dir=REPOSITORY / "solutions", part="activations") as student:
        answer = student.run("call", function="activations.tanh", args=[torch.tensor([0.5])], kwargs={})
    torch.testing.assert_close(answer["result"], torch.tanh(torch.tensor([0.5])))


def test_the_sandbox_processes_have_no_capabilities_and_see_no_repository(pool: WorkerPool) -> None:
    paths = ["/proc/self/status", "/proc/1/status"]
    result = attack(pool, "read_files", paths)
    assert isinstance(result, list)
    if pool.tier == "uid":  # Landlock hides /proc, which would name every process of the host
        assert result == ["failed: PermissionError"] * 2
        return
    for status in result:
        capabilities = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith("Cap")}
        assert capabilities["CapEff"] == capabilities["CapPrm"] == capabilities["CapBnd"] == "0" * 16, status
    listing = attack(pool, "read_files", ["/proc/self/mountinfo"])
    assert isinstance(listing, list)
    mount_points = [line.split()[4] for line in listing[0].splitlines()]
    assert not [point for point in mount_points if point.startswith(str(REPOSITORY))]


def test_it_cannot_read_graders_solutions_course_or_other_handins(pool: WorkerPool, tmp_path: Path) -> None:
    other = tmp_path / "other-student"
    other.mkdir()
    secret = secrets.token_hex(16)
    (other / "activations.py").write_text(f"SECRET = {secret!r}\n")
    paths = [
        REPOSITORY / "graders" / "pytest.ini",
        REPOSITORY / "solutions" / "activations.py",
        REPOSITORY / "course.yml",
        other / "activations.py",
        bwrap.package_dir().parent / "course.yml",
    ]
    result = attack(pool, "read_files", [str(path) for path in paths])
    refused = "failed: FileNotFoundError" if pool.tier == "bwrap" else "failed: PermissionError"
    assert result == [refused] * len(paths)
    assert secret not in repr(result)


def test_of_the_course_it_reads_only_the_probes_file(pool: WorkerPool) -> None:
    """The sandbox is given the course's probes file, read-only; the graders beside it and course.yml stay out."""
    inside = bwrap.COURSE_PROBES_MOUNT if pool.tier == "bwrap" else str(PROBES_FILE)
    hidden = [
        REPOSITORY / "graders" / "test_training.py",
        REPOSITORY / "course.yml",
        REPOSITORY / "graders" / "fit_figure.py",
        REPOSITORY / "graders",
    ]
    result = attack(pool, "read_course", [inside, *(str(path) for path in hidden)])
    assert isinstance(result, list), result
    assert result[0] == "sha256:" + hashlib.sha256(PROBES_FILE.read_bytes()).hexdigest()
    refused = "failed: FileNotFoundError" if pool.tier == "bwrap" else "failed: PermissionError"
    assert result[1:] == [refused] * len(hidden)
    if pool.tier == "bwrap":  # the mount's folder holds that one file
        beside = str(Path(inside).with_name("test_training.py"))
        assert attack(pool, "read_course", [str(Path(inside).parent), beside]) == [
            [Path(inside).name],
            "failed: FileNotFoundError",
        ]
    # Read-only: the probes file cannot be changed from inside.
    before = PROBES_FILE.read_bytes()
    written = attack(pool, "write_outside", [inside])
    assert isinstance(written, list) and written[0].startswith("failed: "), written
    assert PROBES_FILE.read_bytes() == before


def test_it_cannot_import_the_reference_solution(pool: WorkerPool) -> None:
    result = attack(pool, "import_solution", str(REPOSITORY))
    refused = "failed: FileNotFoundError" if pool.tier == "bwrap" else "failed: PermissionError"
    assert result == ["failed: ModuleNotFoundError", refused]


def test_it_cannot_write_outside_its_folder(pool: WorkerPool, tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    targets = [output / "grades.csv", pool.slot_dir(1) / "planted.py", REPOSITORY / "planted.py", Path("/usr/planted")]
    result = attack(pool, "write_outside", [str(path) for path in targets])
    assert isinstance(result, list)
    assert "written" not in result
    for path in targets:
        assert not path.exists(), path


def test_it_cannot_reach_the_network(pool: WorkerPool) -> None:
    accepted: list[object] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(2)

        def accept() -> None:
            with contextlib.suppress(OSError):
                accepted.append(listener.accept())

        thread = threading.Thread(target=accept)
        thread.start()
        result = attack(pool, "network", listener.getsockname()[1])
        thread.join()
    assert isinstance(result, str) and result.startswith("failed"), result
    assert accepted == []


def test_no_process_outlives_its_session(pool: WorkerPool) -> None:
    marker = f"coursekit-attack-{secrets.token_hex(8)}"
    assert attack(pool, "background_process", marker) == "started"
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


def test_a_fork_bomb_costs_only_its_own_slot(pool: WorkerPool) -> None:
    # Both warm, started from this thread (bubblewrap's --die-with-parent follows the thread that started a
    # worker), so that the timing below is one session's.
    assert_slot_works(pool, slot=0)
    assert_slot_works(pool, slot=1)
    results: list[object] = []
    bomb = threading.Thread(target=lambda: results.append(attack(pool, "fork_bomb", 0, slot=0)))
    bomb.start()
    time.sleep(1)
    started = time.monotonic()
    assert_slot_works(pool, slot=1)
    assert time.monotonic() - started < 2.5
    bomb.join()
    assert isinstance(results[0], StudentTimeout)
    assert_slot_works(pool, slot=0)


def test_its_parent_cannot_be_killed(pool: WorkerPool) -> None:
    # In the sandbox the worker is pid 1, and the kernel delivers no signal to it from inside its namespace; in the
    # uid tier it is root's, and the student's uid may not signal it.
    worker = pool.worker(0)
    with pool.session(slot=0, handin_dir=ATTACKS / "kill_parent", part="activations") as student:
        for _ in range(3):
            if pool.tier == "bwrap":
                assert student.run("call", function="activations.tanh", args=[1.0], kwargs={})["result"] == 1.0
            else:
                with pytest.raises(StudentError, match="PermissionError"):
                    student.run("call", function="activations.tanh", args=[1.0], kwargs={})
    assert pool.worker(0) is worker and worker.alive()
    assert_slot_works(pool)


@pytest.mark.parametrize("tier", TIERS)
def test_unbounded_memory_is_stopped(tmp_path: Path, tier: str) -> None:
    # The smallest budget the config allows: touching memory runs at about 200 MB/s on a busy CI machine.
    limits = LIMITS.model_copy(update={"memory_mb": 256})
    with tier_pool(tier, tmp_path, limits=limits, slots=1) as small:
        result = attack(small, "memory_hog", 1.0)
        assert isinstance(result, StudentError)
        assert "MemoryError" in result.message, result
        assert_slot_works(small)


@pytest.mark.parametrize("name", ["busy_loop", "sleep_forever"])
def test_code_that_never_returns_times_out(pool: WorkerPool, name: str) -> None:
    started = time.monotonic()
    result = attack(pool, name, 1.0)
    assert isinstance(result, StudentTimeout)
    assert result.message == "tanh (or the import of your module before it) did not return within 3 s"
    # The budget, plus killing and cleaning up on a loaded 2-core machine.
    assert time.monotonic() - started < LIMITS.time_seconds + 6


def test_filling_the_disk_stops_at_the_file_size_limit(pool: WorkerPool) -> None:
    result = attack(pool, "fill_disk", ["big.bin", "/tmp/big.bin"])
    # The uid tier's only writable place is the session folder: Landlock refuses /tmp.
    in_tmp = LIMITS.file_size_mb * 2**20 if pool.tier == "bwrap" else 0
    assert result == [LIMITS.file_size_mb * 2**20, in_tmp]
    assert list(pool.slot_dir(0).glob("session-*")) == []


def test_flooding_output_is_capped(pool: WorkerPool) -> None:
    with pool.session(slot=0, handin_dir=ATTACKS / "flood_output", part="activations") as student:
        answer = student.run("call", function="activations.tanh", args=[torch.tensor([0.5])], kwargs={})
    torch.testing.assert_close(answer["result"], torch.tanh(torch.tensor([0.5])))
    assert len(student.output) < LIMITS.output_kb * 1024 + 200
    assert "[output cut:" in student.output


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("os._exit", StudentCrash),
        ("sys.exit", StudentError),
        ("KeyboardInterrupt", StudentError),
        ("SystemExit", StudentError),
    ],
)
def test_leaving_at_call_time_costs_only_that_call(pool: WorkerPool, kind: str, expected: type) -> None:
    result = attack(pool, "exits_at_call", kind)
    assert type(result) is expected, result
    if expected is StudentCrash:
        assert result.message == "your code ended the worker process (exit code 3) while running tanh"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("exit_at_import", StudentCrash), ("sysexit_at_import", StudentError), ("interrupt_at_import", StudentError)],
)
def test_leaving_at_import_time_costs_only_that_session(pool: WorkerPool, name: str, expected: type) -> None:
    result = attack(pool, name, 1.0)
    assert type(result) is expected, result
    if expected is StudentError:
        assert "activations.py could not be imported" in result.message
    assert_slot_works(pool)


def test_a_faked_result_never_runs_on_the_trusted_side(pool: WorkerPool, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    result = attack(pool, "fake_result", str(marker))
    assert isinstance(result, StudentError)
    assert "not plain data" in result.message
    assert not marker.exists()


def test_no_process_can_be_ptraced(pool: WorkerPool) -> None:
    outcomes = attack(pool, "ptrace_init", 0)
    assert isinstance(outcomes, dict) and "1" in outcomes, outcomes
    assert "attached" not in outcomes.values(), outcomes
    assert outcomes["mem"] != "read"
    assert_slot_works(pool)


def test_nothing_of_a_session_reaches_the_next_student_on_its_slot(pool: WorkerPool, tmp_path: Path) -> None:
    marker = f"coursekit-attack-{secrets.token_hex(8)}"
    host_file = tmp_path / "host-file"
    host_file.write_text("untouched")
    planted = attack(pool, "plant_files", marker, str(host_file))
    assert isinstance(planted, list) and planted, planted
    if pool.tier == "bwrap":
        assert "/scratch" in planted and "/tmp" in planted, planted
    # The watcher it left would turn the next hand-in's files into links to `host_file`: it is gone, and the
    # next session finds an empty scratch, /tmp and /dev/shm.
    assert processes_with(marker) == []
    with pool.session(slot=0, handin_dir=ATTACKS / "plant_files", part="activations") as student:
        assert student.run("call", function="activations.sigmoid", args=[marker], kwargs={})["result"] == []
    assert_slot_works(pool)
    assert host_file.read_text() == "untouched"


def test_the_students_uid_is_an_unprivileged_host_uid(pool: WorkerPool) -> None:
    marker = f"coursekit-attack-{secrets.token_hex(8)}"
    with pool.session(slot=1, handin_dir=ATTACKS / "background_process", part="activations") as student:
        assert student.run("call", function="activations.tanh", args=[marker], kwargs={})["result"] == "started"
        deadline = time.monotonic() + 5
        while not processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        owners = set()
        for pid in processes_with(marker):
            status = Path(f"/proc/{pid}/status").read_text()
            owners |= {int(line.split()[1]) for line in status.splitlines() if line.startswith(("Uid:", "Gid:"))}
    assert owners, "the student's process was not found"
    expected = bwrap.uid_of_slot(1) if os.geteuid() == 0 else os.geteuid()
    assert owners == {expected}


@pytest.mark.parametrize("tier", TIERS)
def test_the_hosts_environment_stays_outside(tmp_path: Path, tier: str) -> None:
    canary = f"coursekit-canary-{secrets.token_hex(8)}"
    os.environ["COURSEKIT_TEST_LMS_TOKEN"] = canary
    try:
        with tier_pool(tier, tmp_path, slots=1) as fresh:
            seen = attack(fresh, "read_environment", 0)
    finally:
        del os.environ["COURSEKIT_TEST_LMS_TOKEN"]
    assert isinstance(seen, list) and seen, seen
    assert not [entry for entry in seen if canary in entry or "COURSEKIT_TEST" in entry]
    # bubblewrap sets PWD and torch sets its compiler cache folder inside; everything else is the kit's.
    set_inside = {"PWD", "TORCHINDUCTOR_CACHE_DIR"}
    assert {entry.split("=")[0] for entry in seen if "=" in entry} <= set(bwrap.sandbox_environment()) | set_inside


def test_dev_is_read_only_and_the_writable_space_is_bounded_in_total(pool: WorkerPool) -> None:
    assert attack(pool, "fill_disk", ["/dev/big.bin"]) == [0]
    per_mount = max(64, 2 * LIMITS.file_size_mb) * 2**20
    if pool.tier == "uid":
        # One session folder, watched: past the three mounts' worth, the worker ends the session.
        result = attack(pool, "fill_many_files", ".", LIMITS.file_size_mb)
        assert isinstance(result, StudentCrash), result
        assert f"wrote more than {3 * per_mount // 2**20} MB to disk" in result.message
    for folder in bwrap.WRITABLE_MOUNTS if pool.tier == "bwrap" else ():
        written = attack(pool, "fill_many_files", folder, LIMITS.file_size_mb)
        assert isinstance(written, int)
        assert per_mount - 2 * LIMITS.file_size_mb * 2**20 <= written <= per_mount, (folder, written)
    assert_slot_works(pool)


def test_the_kernels_riskier_interfaces_are_refused(pool: WorkerPool) -> None:
    outcomes = attack(pool, "kernel_surface", 0)
    assert isinstance(outcomes, dict), outcomes
    assert (
        outcomes.pop("clone3") == "Function not implemented"
    )  # so that libc falls back to clone, whose flags are checked
    assert outcomes == dict.fromkeys(outcomes, "Operation not permitted"), outcomes
    assert {"io_uring_setup", "keyctl", "bpf", "unshare", "mount", "ptrace", "AF_INET", "AF_NETLINK"} <= outcomes.keys()
    assert_slot_works(pool)
