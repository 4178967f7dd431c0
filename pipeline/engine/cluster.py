"""Where the tasks run: this process's threads (the default), a local cluster of worker processes
(``--workers N``), or an existing Dask distributed scheduler (``--scheduler ADDRESS`` or
``$DASK_SCHEDULER_ADDRESS``: Dask Gateway, dask-kubernetes or a hosted Dask give one).

Nothing here schedules: Dask does. Workers get the run's GDAL settings inside the graph (odc-stac
captures them with each load) and, through a worker plugin, the same token redaction of every log
record and the same allocator policy as the client. They write the product's chunks straight into
the run's staging directory, which must therefore be on a file system they share with the client (a
local cluster, or a network disk); the client commits it once, when everything is written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.reliability import ReadFailure
    from pipeline.footprint import Counters

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - distributed is a dependency; threads work without it
    WorkerPlugin = object  # type: ignore[assignment,misc]

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class SdgcubeWorker(WorkerPlugin):
    """A distributed worker plugin: what every worker process does before it runs a task of ours."""

    name = "sdgcube"

    def __init__(self, kernel_threads: int = 1):
        # a worker's threads already fill its share of the cores (Dask's convention): one thread per kernel
        self.kernel_threads = kernel_threads

    def setup(self, worker) -> None:
        from catalog.reliability import protect_logs, watch_read_failures
        from pipeline import memory
        from pipeline.engine import tasks

        tasks.kernel_share = self.kernel_threads

        protect_logs()  # signed hrefs in odc-loader's or rasterio's log records are redacted on the worker too
        watch_read_failures()  # which asset failed: the client asks for them (``worker_read_failures``)
        memory.bound_allocator()


@contextlib.contextmanager
def scheduler(address: str | None = None, workers: int | None = None) -> Iterator[str]:
    """Run what is computed inside on ``address`` (else ``$DASK_SCHEDULER_ADDRESS``), on a local cluster of
    ``workers`` single-threaded processes, or on this process's threads; yields a description."""
    from catalog.errors import SdgcubeError

    address = address or os.environ.get(SCHEDULER_ENV) or None
    if address is None and not workers:
        yield "threads of this process"
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SdgcubeError("a Dask cluster needs the 'distributed' package",
                           hint="pip install 'dask[distributed]' (make install has it)") from None
    with contextlib.ExitStack() as stack:
        if address is not None:
            try:
                client = stack.enter_context(Client(address, timeout="10s", set_as_default=True))
            except (OSError, TimeoutError) as exc:
                raise SdgcubeError(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__})",
                                   hint="check the address (tcp://host:8786) and that the scheduler runs") from None
            where = f"Dask scheduler {address}"
            share = 1
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, host="127.0.0.1"))
            client = stack.enter_context(Client(cluster, set_as_default=True))
            where = f"a local cluster of {workers} worker processes"
            share = max(1, (os.cpu_count() or 1) // (workers or 1))  # fewer workers than cores: kernels use the rest
        client.register_plugin(SdgcubeWorker(share))
        n = len(client.scheduler_info().get("workers", {}))
        yield f"{where} ({n} worker{'s' if n != 1 else ''})"


def _take_read_failures() -> list[ReadFailure]:
    from catalog.reliability import watch_read_failures

    return watch_read_failures().take()


def worker_read_failures() -> list[ReadFailure]:
    """The read failures odc-loader reported on the workers of the current Dask distributed client since the
    last call (none on threads, where the run's own ``capture_read_failures`` sees them), in worker order."""
    client = _client()
    if client is None:
        return []
    found: list[ReadFailure] = []
    for _, failures in sorted(client.run(_take_read_failures).items()):
        found.extend(f for f in failures if f not in found)
    return found


def _client():
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client: the threaded scheduler
        return None


def worker_counters() -> dict[str, Counters] | None:
    """CPU time, bytes read/written and lifetime peak RSS of every worker of the current Dask distributed
    client (None on threads): the footprint adds the workers' share of the run."""
    client = _client()
    if client is None:
        return None
    from pipeline.footprint import own_counters

    return dict(client.run(own_counters))
