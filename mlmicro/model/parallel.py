"""Where independent fits run: local threads or a Dask cluster.

Training is thousands of independent fits (folds x repeats, permutations,
tuning candidates, held-out studies). A *runner* maps one task function over
a list of task descriptions and returns the results in task order:

* :class:`ThreadRunner` (the default) runs them on joblib threads in this
  process, ``jobs`` at a time.
* :class:`DaskRunner` submits them to a Dask ``distributed`` cluster; the
  tables every task needs are scattered to the workers once.

:func:`open_runner` turns a ``scheduler`` value into a runner for the length
of a ``with`` block:

``None``
    Local threads (or the ``MLMICRO_SCHEDULER`` environment variable when set).
``"local"`` / ``"local:N"``
    Start a ``distributed.LocalCluster`` of N single-threaded worker processes
    (one per core without N) for the run, and close it after.
``"tcp://host:8786"`` (any Dask address)
    Connect to a running scheduler, for example one started by
    ``dask-jobqueue`` on a SLURM or PBS cluster.
a ``distributed.Client``
    Use that client as it is (it is not closed).

Task functions must be module-level (workers import them by name) and
deterministic: each task carries everything it needs, including its seed, so
results do not depend on which worker runs it or in which order. Dask is an
optional dependency (``pip install "mlmicro[dask]"``); it is only imported
when a scheduler is asked for.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from joblib import Parallel, delayed
from tqdm.auto import tqdm

from mlmicro.exceptions import ClusterError, ConfigError, MlmicroError

__all__ = [
    "SCHEDULER_ENV",
    "DASK_INSTALL",
    "CONNECT_TIMEOUT_S",
    "SchedulerSpec",
    "Runner",
    "ThreadRunner",
    "DaskRunner",
    "parse_scheduler",
    "resolve_scheduler",
    "open_runner",
    "import_distributed",
]

#: Environment variable read when no scheduler is passed.
SCHEDULER_ENV = "MLMICRO_SCHEDULER"
#: What to install for ``--scheduler``.
DASK_INSTALL = 'pip install "mlmicro[dask]"'
#: Seconds to wait for a scheduler to answer and for its first worker.
CONNECT_TIMEOUT_S = 10

R = TypeVar("R")

_LOCAL = re.compile(r"^local(?::(\d+))?$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-]+:\d+$")


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``scheduler`` value.

    Attributes
    ----------
    kind : {"local", "address"}
        Start a local cluster, or connect to a running scheduler.
    workers : int or None
        Worker processes of a local cluster.
    address : str or None
        Scheduler address to connect to.
    source : str
        Where the value came from (``--scheduler`` or the environment variable),
        for error messages.
    """

    kind: Literal["local", "address"]
    workers: int | None = None
    address: str | None = None
    source: str = "--scheduler"

    def describe(self) -> str:
        """Return the value as the user wrote it."""
        if self.kind == "local":
            return f"local:{self.workers}"
        return str(self.address)


def parse_scheduler(value: str, *, source: str = "--scheduler") -> SchedulerSpec:
    """Parse a scheduler value.

    Parameters
    ----------
    value : str
        ``"local"``, ``"local:N"``, a Dask address (``tcp://host:8786``,
        ``tls://...``) or ``host:port``.
    source : str
        Where the value came from, named in error messages.

    Returns
    -------
    SchedulerSpec

    Raises
    ------
    ConfigError
        If the value is none of these.

    Examples
    --------
    >>> parse_scheduler("local:2").workers
    2
    >>> parse_scheduler("scheduler.example.org:8786").address
    'tcp://scheduler.example.org:8786'
    """
    text = value.strip()
    local = _LOCAL.match(text)
    if local:
        workers = int(local.group(1)) if local.group(1) else (os.cpu_count() or 1)
        if workers < 1:
            raise ConfigError(
                f"{source} {value!r} asks for no workers; use local:N with N at least 1."
            )
        return SchedulerSpec("local", workers=workers, source=source)
    if "://" in text:
        return SchedulerSpec("address", address=text, source=source)
    if _HOST_PORT.match(text):
        return SchedulerSpec("address", address=f"tcp://{text}", source=source)
    raise ConfigError(
        f"{source} {value!r} is not a scheduler; use local, local:N or a Dask scheduler "
        "address such as tcp://host:8786."
    )


def resolve_scheduler(scheduler: Any = None) -> Any:
    """Return the scheduler to use: the argument, else ``$MLMICRO_SCHEDULER``, else ``None``.

    A string becomes a :class:`SchedulerSpec`; a ``distributed.Client`` is
    returned as it is; ``None`` or an empty string means local threads.
    """
    source = "--scheduler"
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_ENV) or None
        source = SCHEDULER_ENV
    if scheduler is None or (isinstance(scheduler, str) and not scheduler.strip()):
        return None
    if isinstance(scheduler, SchedulerSpec):
        return scheduler
    if isinstance(scheduler, str):
        return parse_scheduler(scheduler, source=source)
    if not callable(getattr(scheduler, "submit", None)):
        raise ConfigError(
            f"scheduler must be None, local, local:N, a scheduler address or a "
            f"distributed.Client; got {type(scheduler).__name__}."
        )
    return scheduler  # a distributed.Client


def import_distributed(what: str = "--scheduler") -> Any:
    """Import ``distributed``, or say in one line what to install.

    Raises
    ------
    ClusterError
        If Dask's ``distributed`` package is not installed.
    """
    try:
        import distributed
    except ImportError:
        raise ClusterError(
            f"{what} needs Dask, which is not installed; install it with: {DASK_INSTALL}"
        ) from None
    return distributed


class Runner(Protocol):
    """Runs independent tasks and returns their results in task order."""

    def map(
        self,
        func: Callable[..., R],
        items: Sequence[Any],
        *,
        shared: Sequence[Any] = (),
        progress: bool = False,
        description: str = "fits",
    ) -> list[R]:
        """Return ``[func(*shared, item) for item in items]``, computed somewhere."""
        ...  # pragma: no cover


class ThreadRunner:
    """Run tasks on joblib threads in this process (``jobs`` at a time).

    Parameters
    ----------
    jobs : int
        Tasks in parallel; 1 runs them one after another, -1 one per core.
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs

    def map(
        self,
        func: Callable[..., R],
        items: Sequence[Any],
        *,
        shared: Sequence[Any] = (),
        progress: bool = False,
        description: str = "fits",
    ) -> list[R]:
        """Return ``[func(*shared, item) for item in items]``, computed on threads."""
        items = list(items)
        if self.jobs == 1:
            results: Iterator[R] = (func(*shared, item) for item in items)
        else:
            # Threads, not processes: XGBoost, scikit-learn's trees and numpy release the
            # GIL, and threads share the table instead of pickling it to every worker.
            runner = Parallel(n_jobs=self.jobs, prefer="threads", return_as="generator")
            results = runner(delayed(func)(*shared, item) for item in items)
        out = []
        with tqdm(
            total=len(items), desc=description, unit="fit", disable=not progress, leave=False
        ) as bar:
            for result in results:
                out.append(result)
                bar.update(1)
        return out


class DaskRunner:
    """Run tasks on a Dask ``distributed`` cluster.

    Large shared arguments (the table, the labels) are scattered to every
    worker once per runner and passed to tasks by reference. A worker that
    dies mid-task has its tasks rerun elsewhere by Dask (up to the
    scheduler's ``allowed-failures``); past that, :meth:`map` cancels the
    remaining tasks and raises :class:`~mlmicro.exceptions.ClusterError`.

    Parameters
    ----------
    client : distributed.Client
        A connected client.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scattered: dict[int, tuple[Any, Any]] = {}

    def _share(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        key = id(value)
        if key not in self._scattered:
            future = self.client.scatter(value, broadcast=True, hash=False)
            # keep the object alive so its id is not reused while the future is
            self._scattered[key] = (value, future)
        return self._scattered[key][1]

    def release(self) -> None:
        """Drop the scattered data from the workers."""
        futures = [future for _, future in self._scattered.values()]
        self._scattered.clear()
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - best effort on a client that may be gone
                pass

    def map(
        self,
        func: Callable[..., R],
        items: Sequence[Any],
        *,
        shared: Sequence[Any] = (),
        progress: bool = False,
        description: str = "fits",
    ) -> list[R]:
        """Return ``[func(*shared, item) for item in items]``, computed on the cluster."""
        distributed = import_distributed()
        items = list(items)
        if not items:
            return []
        prefix = f"mlmicro-{description.replace(' ', '-')}-{uuid.uuid4().hex[:8]}"
        futures = []
        try:
            args = [self._share(value) for value in shared]
            for i, item in enumerate(items):
                futures.append(self.client.submit(func, *args, item, key=f"{prefix}-{i}"))
            position = {future.key: i for i, future in enumerate(futures)}
            results: list[Any] = [None] * len(items)
            with tqdm(
                total=len(items), desc=description, unit="fit", disable=not progress, leave=False
            ) as bar:
                for future in distributed.as_completed(futures, loop=self.client.loop):
                    results[position[future.key]] = future.result()
                    bar.update(1)
            return results
        except MlmicroError:
            raise
        except distributed.scheduler.KilledWorker as exc:
            raise ClusterError(
                f"Dask workers kept dying while running {description} task {exc.task!r}, "
                "past the scheduler's allowed-failures; training stopped and nothing was saved. "
                "Check the workers' memory limit and logs."
            ) from None
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "mlmicro":
                raise ClusterError(
                    "The Dask workers cannot import mlmicro; install the same mlmicro version "
                    "on every worker (pip install mlmicro[dask]) and restart them."
                ) from None
            raise
        except (distributed.CancelledError, TimeoutError, OSError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ClusterError(
                f"Lost the Dask cluster while running {description} ({reason}); training "
                "stopped and nothing was saved. Check that the scheduler and workers are up."
            ) from None
        finally:
            pending = [future for future in futures if not future.done()]
            if pending:
                try:
                    self.client.cancel(pending)
                except Exception:  # noqa: BLE001 - best effort on a client that may be gone
                    pass


@contextmanager
def _dask_client(spec: SchedulerSpec) -> Iterator[Any]:
    distributed = import_distributed(f"{spec.source} {spec.describe()}")
    if spec.kind == "local":
        import logging

        cluster = distributed.LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        client = distributed.Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = distributed.Client(spec.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(
            f"Cannot reach the Dask scheduler at {spec.address} ({spec.source}): {reason}; "
            "check the address and that the scheduler is running."
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise ClusterError(
                f"The Dask scheduler at {spec.address} has no workers after "
                f"{CONNECT_TIMEOUT_S} s; start workers (dask worker {spec.address}) and retry."
            ) from None
        yield client
    finally:
        client.close()


@contextmanager
def open_runner(scheduler: Any = None, *, jobs: int = 1) -> Iterator[Runner]:
    """Yield the runner for ``scheduler`` and tidy it up afterwards.

    Parameters
    ----------
    scheduler : str, SchedulerSpec, distributed.Client or None
        See the module docstring; ``None`` reads ``$MLMICRO_SCHEDULER`` and
        falls back to local threads.
    jobs : int
        Threads of the local runner (ignored on a cluster, whose workers
        decide the parallelism).

    Yields
    ------
    Runner

    Raises
    ------
    ConfigError
        If the scheduler value cannot be parsed.
    ClusterError
        If Dask is not installed or the scheduler cannot be reached.
    """
    resolved = resolve_scheduler(scheduler)
    if resolved is None:
        yield ThreadRunner(jobs)
        return
    if isinstance(resolved, SchedulerSpec):
        with _dask_client(resolved) as client:
            runner = DaskRunner(client)
            try:
                yield runner
            finally:
                runner.release()
        return
    import_distributed()
    runner = DaskRunner(resolved)
    try:
        yield runner
    finally:
        runner.release()
