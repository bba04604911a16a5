"""Running the shards of a generation job (``simreal generate people / mixed``) in local processes or as Ray
tasks."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path

from simreal.simulate.people.shards import ShardJob, write_shard
from simreal.utils.errors import SimrealError

POLL_S = 0.5


def _shard_job(out: str, job: ShardJob, k: int, n: int) -> str:
    return str(write_shard(out, job, k, n))


def run_processes(out: Path, job: ShardJob, n: int, poll: Callable[[], object]) -> None:
    """One spawned process per shard (each has its own GL context); ``poll`` refreshes the progress bar."""
    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_shard_job, str(out), job, k, n) for k in range(n)]
        while True:
            done, pending = wait(futures, timeout=POLL_S, return_when=FIRST_EXCEPTION)
            poll()
            for f in done:
                if f.exception() is not None:
                    for p in pending:
                        p.cancel()
                    raise f.exception()
            if not pending:
                return


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
