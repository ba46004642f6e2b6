"""Specification of ``gradmodes.ddp.run``: real worker processes, bounded in time, none left.

Each test starts real processes joined by a gloo process group on 127.0.0.1. After every
run, whatever its outcome, no worker may still exist.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from gradmodes import ddp


@pytest.fixture(autouse=True)
def _no_worker_left() -> Iterator[None]:
    yield
    assert multiprocessing.active_children() == []


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _pid() -> int:
    return os.getpid()


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_each_worker_runs_once_and_the_values_come_back_by_rank(world_size: int) -> None:
    results = ddp.run(lambda: (dist.get_rank(), dist.get_world_size()), world_size=world_size)
    assert results.values == [(rank, world_size) for rank in range(world_size)]


def test_the_workers_are_processes_that_are_gone_afterwards() -> None:
    pids = ddp.run(_pid).values
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert all(_gone(pid) for pid in pids)


def test_the_workers_form_a_process_group() -> None:
    def total() -> float:
        t = torch.tensor([float(dist.get_rank() + 1)])
        dist.all_reduce(t)
        return t.item()

    assert ddp.run(total).values == [3.0, 3.0]


def test_tensors_come_back_by_value() -> None:
    values = ddp.run(lambda: torch.full((3,), float(dist.get_rank()))).values
    assert [v.tolist() for v in values] == [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]


def test_arguments_reach_the_worker() -> None:
    assert ddp.run(lambda a, b: a + b + dist.get_rank(), 10, 5).values == [15, 16]


def test_what_a_worker_writes_is_captured_down_to_its_file_descriptors() -> None:
    def talk() -> None:
        print("print", dist.get_rank())
        sys.stderr.write("stderr\n")
        os.write(2, b"fd 2\n")  # as torch's C++ warnings are written

    outputs = ddp.run(talk).outputs
    assert outputs == ["print 0\nstderr\nfd 2\n", "print 1\nstderr\nfd 2\n"]


def test_a_worker_that_raises_is_reported_with_its_error() -> None:
    def fails() -> None:
        raise ValueError(f"rank {dist.get_rank()} says no")

    with pytest.raises(ddp.WorkerFailed) as caught:
        ddp.run(fails)
    failure = caught.value
    assert (failure.rank, failure.error, failure.message) == (
        0,
        "ValueError",
        "rank 0 says no [also failed: rank 1 (ValueError)]",
    )
    assert str(failure) == (
        "worker rank 0 failed: ValueError: rank 0 says no [also failed: rank 1 (ValueError)]"
    )
    assert "in fails" in failure.remote_traceback


def test_the_lowest_failed_rank_is_reported_even_when_another_fails_first() -> None:
    def one_fails() -> None:
        if dist.get_rank() == 1:
            raise KeyError("rank 1")
        time.sleep(0.5)  # rank 1 fails first
        raise RuntimeError("rank 0 too")

    with pytest.raises(ddp.WorkerFailed, match=r"rank 0 .* \[also failed: rank 1 \(KeyError\)\]"):
        ddp.run(one_fails)


def test_a_worker_that_dies_without_a_result_is_reported_with_its_exit_code() -> None:
    with pytest.raises(ddp.WorkerFailed, match="exited with code 3 without a result"):
        ddp.run(os._exit, 3)


def test_a_result_that_cannot_be_sent_back_is_an_error() -> None:
    with pytest.raises(ddp.WorkerFailed, match="cannot send the result back"):
        ddp.run(lambda: threading.Lock())


def test_a_worker_that_hangs_is_killed_at_the_timeout(tmp_path: Path) -> None:
    def hangs() -> None:
        (tmp_path / str(dist.get_rank())).write_text(str(os.getpid()))
        time.sleep(600)

    start = time.monotonic()
    with pytest.raises(ddp.WorkersTimedOut) as caught:
        ddp.run(hangs, timeout=3)
    took = time.monotonic() - start
    assert (
        str(caught.value)
        == "2 of 2 worker(s) (ranks 0, 1) did not finish within 3 s and were killed"
    )
    assert caught.value.running == (0, 1)
    assert took < 3 + ddp._KILL_WAIT
    pids = [int((tmp_path / str(rank)).read_text()) for rank in (0, 1)]
    assert all(_gone(pid) for pid in pids)


def test_a_worker_that_ignores_sigterm_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ddp, "_KILL_WAIT", 0.5)

    def stubborn() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        (tmp_path / str(dist.get_rank())).write_text(str(os.getpid()))
        time.sleep(600)

    with pytest.raises(ddp.WorkersTimedOut):
        ddp.run(stubborn, timeout=2)
    assert all(_gone(int((tmp_path / str(rank)).read_text())) for rank in (0, 1))


def test_only_the_ranks_still_running_are_named_at_the_timeout() -> None:
    def rank_1_hangs() -> None:
        if dist.get_rank() == 1:
            time.sleep(600)

    with pytest.raises(ddp.WorkersTimedOut, match=r"^1 of 2 worker\(s\) \(ranks 1\)"):
        ddp.run(rank_1_hangs, timeout=3)


LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp shows it
LISTEN = "0A"


def _tcp_sockets() -> list[tuple[str, str, str]]:
    """(local address, remote address, state) of this process's TCP sockets, from /proc."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    sockets = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                local, remote = (fields[i].split(":")[0] for i in (1, 2))
                sockets.append((local, remote, fields[3]))
    return sockets


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc/net/tcp")
def test_the_workers_listen_and_connect_only_on_the_loopback_address() -> None:
    def sockets() -> list[tuple[str, str, str]]:
        t = torch.ones(1)
        dist.all_reduce(t)  # gloo's connections are up
        return _tcp_sockets()

    seen = ddp.run(sockets).values
    assert all(seen)  # each worker has its sockets
    for local, remote, state in (s for worker in seen for s in worker):
        assert local == LOOPBACK_HEX
        assert remote == LOOPBACK_HEX or state == LISTEN


def test_two_runs_at_once_get_their_own_ports() -> None:
    got: list[list[int]] = []

    def one_run() -> None:
        got.append(ddp.run(dist.get_rank).values)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert got == [[0, 1], [0, 1]]


def test_spawned_workers_work_too() -> None:
    assert ddp.run(dist.get_rank, start_method="spawn", timeout=120).values == [0, 1]


def test_the_loopback_interface_is_named() -> None:
    assert ddp.loopback_interface() in ("lo", "lo0")
