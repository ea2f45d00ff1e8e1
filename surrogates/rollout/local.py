"""The local backend: tile groups through the model in this process, CPU or one GPU.

Reads and writes overlap with compute: while the model evaluates group ``i``, one thread
reads the windows of group ``i + 1`` and another writes the outputs of group ``i - 1``
(then records it as done). At most three groups are in flight, which the memory budget
accounts for (:mod:`surrogates.rollout.memory`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from surrogates.rollout.work import Batch, Context, Job

__all__ = ["run_local"]


def _finish(ctx: Context, job: Job, batch: Batch | None, y: Any, on_done: Callable) -> None:
    if job.phase == "apply":
        ctx.write(job, batch, y)
    else:
        ctx.blend(job)
    ctx.store.mark(job.step, job.key)
    on_done(job)


def run_local(
    ctx: Context, jobs: Sequence[Job], surrogate: Any, on_done: Callable[[Job], None]
) -> None:
    """Run the jobs of one phase of one step (``apply`` jobs pipelined, ``blend`` on 2 threads).

    ``on_done(job)`` is called (from a worker thread) once a job's outputs are written and
    recorded.
    """
    if not jobs:
        return
    if jobs[0].phase == "blend":
        with ThreadPoolExecutor(2, thread_name_prefix="rollout-blend") as pool:
            for f in [pool.submit(_finish, ctx, job, None, None, on_done) for job in jobs]:
                f.result()
        return
    with (
        ThreadPoolExecutor(1, thread_name_prefix="rollout-read") as reader,
        ThreadPoolExecutor(1, thread_name_prefix="rollout-write") as writer,
    ):
        ahead: Future = reader.submit(ctx.read, jobs[0])
        writing: Future | None = None
        for i, job in enumerate(jobs):
            batch = ahead.result()
            if i + 1 < len(jobs):
                ahead = reader.submit(ctx.read, jobs[i + 1])
            y = ctx.compute(surrogate, batch)
            if writing is not None:
                writing.result()
            writing = writer.submit(_finish, ctx, job, batch, y, on_done)
            del batch, y
        if writing is not None:
            writing.result()
