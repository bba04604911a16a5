"""Running the shards of a generation job (:mod:`simreal.simulate.shards`) here, in local processes or as Ray
tasks: :func:`generate_sharded` gives every simulator ``--workers``, ``--shard K/N`` and ``--ray``."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from simreal.data.writer import PARTIAL
from simreal.simulate.shards import (
    ShardJob,
    check_out,
    check_shard_count,
    merge_shards,
    shard_dir,
    shard_progress,
    shard_range,
    write_shard,
)
from simreal.utils.errors import SimrealError
from simreal.utils.locking import FolderLock, die_with_parent
from simreal.utils.progress import progress_bar

POLL_S = 0.5


def _shard_job(out: str, job: ShardJob, k: int, n: int) -> str:
    return str(write_shard(out, job, k, n))


def _shard_process(out: str, job: ShardJob, k: int, n: int, parent: int, errors: mp.Queue) -> None:
    die_with_parent(parent)
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // n))  # n workers share the cores, not n × all of them
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


def generate_sharded(out: str | Path, job: ShardJob, workers: int = 1, shard: tuple[int, int] | None = None,
                     ray_address: str | None = None, overwrite: bool = False, show_progress: bool | None = None,
                     log: Callable[[str], object] = print) -> Path | None:
    """Run ``job`` into ``out`` in this process, ``workers`` processes, one ``shard`` (K, N), or Ray tasks;
    returns ``out`` once merged (None: other shards still running)."""
    out = Path(out)
    if shard is not None and overwrite:
        raise SimrealError("--overwrite cannot be combined with --shard (other shards may be running)")
    if shard is None:  # the whole job is ours: refuse a second one on the same --out (shards lock themselves)
        with FolderLock(out, "another simreal generate"):
            return _generate(out, job, workers, None, ray_address, overwrite, show_progress, log)
    return _generate(out, job, workers, shard, ray_address, overwrite, show_progress, log)


def _generate(out: Path, job: ShardJob, workers: int, shard: tuple[int, int] | None, ray_address: str | None,
              overwrite: bool, show_progress: bool | None, log: Callable[[str], object]) -> Path | None:
    check_out(out, overwrite)
    if overwrite and (out / "shards").exists():
        shutil.rmtree(out / "shards")
    n = shard[1] if shard else (workers if ray_address is None else max(workers, 1))
    check_shard_count(out, n)
    todo = [shard[0]] if shard else list(range(n))
    total = sum(len(shard_range(job.count, k, n)) for k in todo)
    with progress_bar(show_progress) as bar:
        task = bar.add_task(job.label, total=total, completed=0, status="")
        if ray_address is not None:
                        run_ray(out, job, n, ray_address, lambda: bar.update(task, completed=shard_progress(out, n)))
        elif len(todo) == 1:
            root = shard_dir(out, todo[0], n)
            bar.update(task, completed=(root / PARTIAL).read_bytes().count(b"\n") if (root / PARTIAL).exists() else 0)
            write_shard(out, job, todo[0], n, advance=lambda m: bar.advance(task, m), log=log)
        else:
                        run_processes(out, job, n, lambda: bar.update(task, completed=shard_progress(out, n)))
    merged = merge_shards(out, n)
    if merged is None and shard is not None:
        log(f"shard {shard[0]}/{shard[1]} done; the dataset is merged when the last shard finishes")
    return merged
