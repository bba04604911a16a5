"""Running the shards of a generation job (``simreal generate people / mixed``) in local processes or as Ray
tasks."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from pathlib import Path

from simreal.simulate.people.shards import ShardJob, write_shard
from simreal.utils.errors import SimrealError
from simreal.utils.locking import die_with_parent

POLL_S = 0.5


def _shard_job(out: str, job: ShardJob, k: int, n: int) -> str:
    return str(write_shard(out, job, k, n))


def _shard_process(out: str, job: ShardJob, k: int, n: int, parent: int, errors: mp.Queue) -> None:
    die_with_parent(parent)
    try:
        write_shard(out, job, k, n)
    except BaseException as exc:  # reported to the parent, which raises it
        errors.put((k, exc if isinstance(exc, SimrealError) else SimrealError(f"shard {k}: {exc!r}")))
        raise SystemExit(1) from None


def run_processes(out: Path, job: ShardJob, n: int, poll: Callable[[], object]) -> None:
    """One spawned process per shard (each has its own GL context); ``poll`` refreshes the progress bar. The
    workers die with this process (a kill or Ctrl-C), and are stopped when one of them fails."""
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_shard_process, args=(str(out), job, k, n, os.getpid(), errors), daemon=True)
             for k in range(n)]
    try:
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            time.sleep(POLL_S)
            poll()
            if not errors.empty() or any(p.exitcode not in (None, 0) for p in procs):
                break
        poll()
        if not errors.empty():
            raise errors.get()[1]
        failed = [k for k, p in enumerate(procs) if p.exitcode not in (None, 0)]
        if failed:
            raise SimrealError(f"shard {failed[0]} of {n} stopped (exit code {procs[failed[0]].exitcode}); rerun to "
                               "resume")
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)


def run_ray(out: Path, job: ShardJob, n: int, address: str, poll: Callable[[], object]) -> None:
    """One Ray task per shard. ``address``: ``local`` starts a local Ray; otherwise a cluster address
    (``auto``, ``ray://host:10001``). ``out`` must be on storage every node can write (a shared file system)."""
    try:
        import ray
    except ImportError as e:
        raise SimrealError("--ray needs Ray: pip install 'simreal[ray]'") from e
    started = not ray.is_initialized()
    ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False,
             include_dashboard=False)
    try:
        task = ray.remote(num_cpus=1)(_shard_job)
        refs = [task.remote(str(out), job, k, n) for k in range(n)]
        pending = list(refs)
        while pending:
            _, pending = ray.wait(pending, timeout=POLL_S, num_returns=len(pending))
            poll()
        ray.get(refs)  # raise a task's error here
    finally:
        if started:
            ray.shutdown()
