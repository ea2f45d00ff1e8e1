"""The Dask backend: the same tile groups as tasks on a ``dask.distributed`` cluster.

Every task reads its windows from the shared zarr store (or, at the first step, from the
initial state, scattered once to every worker), evaluates its group and writes the
result to the store, then records it as done, exactly as the local backend does. Each
worker loads the surrogate once from the artifact copied into the store
(``_rollout/surrogate.pt``) and keeps it for the following tasks. Results are identical to
the local backend's because the groups (batches) are the same.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from surrogates.rollout.work import Context, Job

__all__ = ["run_dask", "dask_client"]

_SURROGATES: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def _surrogate(artifact: str, fingerprint: str, device: str) -> Any:
    """The surrogate of this worker (loaded on first use, then cached)."""
    key = (artifact, fingerprint, device)
    with _LOCK:
        if key not in _SURROGATES:
            from surrogates.artifact import load

            _SURROGATES[key] = load(artifact, device=device)
        return _SURROGATES[key]


def _run_job(ctx: Context, job: Job, artifact: str, fingerprint: str, device: str) -> int:
    if ctx.store.done(job.step, job.key):  # a task re-run after a worker was lost
        return 0
    if job.phase == "apply":
        batch = ctx.read(job)
        y = ctx.compute(_surrogate(artifact, fingerprint, device), batch)
        ctx.write(job, batch, y)
    else:
        ctx.blend(job)
    ctx.store.mark(job.step, job.key)
    return len(job.units)


@contextlib.contextmanager
def dask_client(scheduler: Any = None) -> Iterator[Any]:
    """A ``distributed.Client``: the one given, one connected to an address, or a new
    ``LocalCluster`` (one thread per worker; closed on exit)."""
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
    elif scheduler is not None:
        with Client(scheduler) as client:
            yield client
    else:
        with LocalCluster(threads_per_worker=1) as cluster, Client(cluster) as client:
            yield client


def run_dask(
    shared: Any,
    jobs: Sequence[Job],
    client: Any,
    artifact: str,
    fingerprint: str,
    device: str,
    on_done: Callable[[Job], None],
) -> None:
    """Run the jobs of one phase of one step as Dask tasks; ``on_done`` as they finish.

    ``shared`` is the :class:`Context`, scattered once to every worker
    (``client.scatter(ctx, broadcast=True)``).
    """
    from distributed import as_completed

    if not jobs:
        return
    futures = {
        client.submit(_run_job, shared, job, artifact, fingerprint, device, pure=False): job
        for job in jobs
    }
    try:
        for future in as_completed(futures):
            future.result()
            on_done(futures[future])
    finally:
        for future in futures:
            future.cancel()
