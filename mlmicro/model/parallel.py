"""Where independent fits run: local threads or a Dask cluster.

Training is thousands of independent fits (folds x repeats, permutations,
tuning candidates, held-out studies); prediction and explanations are blocks
of samples. A *runner* maps one task function over task descriptions and
returns the results in task order: :meth:`Runner.map` all at once (fits),
:meth:`Runner.stream` a few items ahead of the consumer (blocks read from a
file and written out in order):

* :class:`ThreadRunner` (the default) runs them on joblib threads in this
  process, ``jobs`` at a time.
* :class:`DaskRunner` submits them to a Dask ``distributed`` cluster; the
  tables (or the fitted model) every task needs are put on the cluster
  once, as tasks the scheduler can rerun when a worker dies.

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

import itertools
import os
import re
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from joblib import Parallel, delayed
from tqdm.auto import tqdm

from mlmicro.exceptions import ClusterError, ConfigError, MlmicroError

__all__ = [
    "SCHEDULER_ENV",
    "DASK_INSTALL",
    "TRAINING_OUTCOME",
    "CONNECT_TIMEOUT_S",
    "SchedulerSpec",
    "Runner",
    "ThreadRunner",
    "DaskRunner",
    "parse_scheduler",
    "resolve_scheduler",
    "check_scheduler",
    "open_runner",
    "import_distributed",
]

#: Environment variable read when no scheduler is passed.
SCHEDULER_ENV = "MLMICRO_SCHEDULER"
#: What to install for ``--scheduler``.
DASK_INSTALL = 'pip install "mlmicro[dask]"'
#: Seconds to wait for a scheduler to answer and for its first worker.
CONNECT_TIMEOUT_S = 10
#: How a failed training run ends, in error messages.
TRAINING_OUTCOME = "training stopped and nothing was saved"
# Blocks of samples travel inside their tasks on purpose (see DaskRunner.stream),
# so Dask's warning about large task graphs does not apply to them.
BLOCKS_IN_TASKS = {"distributed.admin.large-graph-warning-threshold": "1 TiB"}

R = TypeVar("R")

_END = object()
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


def check_scheduler(scheduler: Any = None) -> Any:
    """Resolve ``scheduler`` (:func:`resolve_scheduler`) and check Dask is installed, early.

    Commands call this before any work, so a bad value or a missing Dask
    stops them at once; the value returned is what :func:`open_runner` takes.

    Raises
    ------
    ConfigError
        If the value cannot be parsed.
    ClusterError
        If a scheduler is asked for and Dask is not installed.
    """
    resolved = resolve_scheduler(scheduler)
    if isinstance(resolved, SchedulerSpec):
        import_distributed(f"{resolved.source} {resolved.describe()}")
    return resolved


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

    def stream(
        self,
        func: Callable[..., R],
        items: Iterable[Any],
        *,
        shared: Sequence[Any] = (),
        description: str = "blocks",
    ) -> Generator[R, None, None]:
        """Yield ``func(*shared, item)`` for each item, in item order, a few items ahead."""
        ...  # pragma: no cover


def _collect(done: Iterable[tuple[int, R]], n: int, *, progress: bool, description: str) -> list[R]:
    """Gather ``(position, result)`` pairs, in any order, into a list in task order."""
    results: list[Any] = [None] * n
    with tqdm(total=n, desc=description, unit="fit", disable=not progress, leave=False) as bar:
        for position, result in done:
            results[position] = result
            bar.update(1)
    return results


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
        results = self._results(func, items, shared)
        return _collect(enumerate(results), len(items), progress=progress, description=description)

    def stream(
        self,
        func: Callable[..., R],
        items: Iterable[Any],
        *,
        shared: Sequence[Any] = (),
        description: str = "blocks",
    ) -> Generator[R, None, None]:
        """Yield ``func(*shared, item)`` for each item, in item order.

        With ``jobs=1`` each item is computed when it is asked for; with more,
        joblib keeps about two items per thread in flight.
        """
        yield from self._results(func, items, shared)

    def _results(
        self, func: Callable[..., R], items: Iterable[Any], shared: Sequence[Any]
    ) -> Iterable[R]:
        if self.jobs == 1:
            return (func(*shared, item) for item in items)
        # Threads, not processes: XGBoost, scikit-learn's trees and numpy release the
        # GIL, and threads share the table instead of pickling it to every worker.
        runner = Parallel(n_jobs=self.jobs, prefer="threads", return_as="generator")
        return runner(delayed(func)(*shared, item) for item in items)


def _identity(value: Any) -> Any:
    """Return ``value`` (the task that holds a shared argument on the cluster)."""
    return value


class DaskRunner:
    """Run tasks on a Dask ``distributed`` cluster.

    Large shared arguments (the table, the labels, a fitted model) are put
    on the cluster once per runner, as the result of a task that the
    scheduler can rerun if the worker holding it dies, and passed to tasks
    by reference. A worker that dies mid-task has its tasks rerun elsewhere by
    Dask (up to the scheduler's ``allowed-failures``); past that, the
    remaining tasks are cancelled and :class:`~mlmicro.exceptions.ClusterError`
    is raised.

    Parameters
    ----------
    client : distributed.Client
        A connected client.
    outcome : str
        What a failed run means for the user, ending the error message
        (default: training stopped and nothing was saved).
    """

    def __init__(self, client: Any, *, outcome: str = TRAINING_OUTCOME) -> None:
        self.client = client
        self.outcome = outcome
        self._scattered: dict[int, tuple[Any, Any]] = {}

    @property
    def n_workers(self) -> int:
        """Workers the scheduler knows now (at least 1)."""
        return max(1, len(self.client.scheduler_info()["workers"]))

    def _share(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        key = id(value)
        if key not in self._scattered:
            # A task that returns the value, not client.scatter: the scheduler keeps
            # the task, so when the worker holding the result dies it is recomputed
            # on another worker. Scattered data has no such recipe, and Dask's
            # active memory manager drops broadcast replicas, so one lost worker
            # would lose it for good. Workers fetch the result from each other once.
            import dask

            with dask.config.set(BLOCKS_IN_TASKS):
                future = self.client.submit(
                    _identity, value, key=f"mlmicro-shared-{uuid.uuid4().hex}", pure=False
                )
            # keep the object alive so its id is not reused while the future is
            self._scattered[key] = (value, future)
        return self._scattered[key][1]

    def release(self) -> None:
        """Drop the scattered data from the workers."""
        futures = [future for _, future in self._scattered.values()]
        self._scattered.clear()
        self._cancel(futures)

    def _cancel(self, futures: Iterable[Any]) -> None:
        pending = [future for future in futures if not future.done()]
        if pending:
            try:
                self.client.cancel(pending)
            except Exception:  # noqa: BLE001 - best effort on a client that may be gone
                pass

    @contextmanager
    def _cluster_errors(self, description: str) -> Iterator[None]:
        """Turn what a lost or broken cluster raises into one-line ClusterErrors."""
        distributed = import_distributed()
        try:
            yield
        except MlmicroError:
            raise
        except distributed.scheduler.KilledWorker as exc:
            raise ClusterError(
                f"Dask workers kept dying while running {description} task {exc.task!r}, "
                f"past the scheduler's allowed-failures; {self.outcome}. "
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
                f"Lost the Dask cluster while running {description} ({reason}); "
                f"{self.outcome}. Check that the scheduler and workers are up."
            ) from None

    def _prefix(self, description: str) -> str:
        return f"mlmicro-{description.replace(' ', '-')}-{uuid.uuid4().hex[:8]}"

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
        prefix = self._prefix(description)
        futures: list[Any] = []
        try:
            with self._cluster_errors(description):
                args = [self._share(value) for value in shared]
                for i, item in enumerate(items):
                    futures.append(self.client.submit(func, *args, item, key=f"{prefix}-{i}"))
                position = {future.key: i for i, future in enumerate(futures)}
                done = (
                    (position[future.key], future.result())
                    for future in distributed.as_completed(futures, loop=self.client.loop)
                )
                return _collect(done, len(items), progress=progress, description=description)
        finally:
            self._cancel(futures)

    def stream(
        self,
        func: Callable[..., R],
        items: Iterable[Any],
        *,
        shared: Sequence[Any] = (),
        description: str = "blocks",
    ) -> Generator[R, None, None]:
        """Yield ``func(*shared, item)`` for each item, in item order, computed on the cluster.

        Items are taken from ``items`` only as results are handed back: about
        two per worker are in flight, so a stream of blocks read from a file
        never has to fit in memory. Each item travels inside its task (not
        scattered on its own), so when a worker is lost the scheduler can rerun
        the task on another worker.
        """
        import dask

        prefix = self._prefix(description)
        window = 2 * self.n_workers
        pending: deque[Any] = deque()
        source = iter(items)
        try:
            with self._cluster_errors(description):
                args = [self._share(value) for value in shared]
            for i in itertools.count():
                item = next(source, _END)  # read here, outside the cluster's error handling
                if item is not _END:
                    with self._cluster_errors(description), dask.config.set(BLOCKS_IN_TASKS):
                        key = f"{prefix}-{i}"
                        pending.append(self.client.submit(func, *args, item, key=key, pure=False))
                if not pending:
                    return
                if item is _END or len(pending) >= window:
                    with self._cluster_errors(description):
                        result = pending.popleft().result()
                    yield result
        finally:
            self._cancel(pending)


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
def open_runner(
    scheduler: Any = None, *, jobs: int = 1, outcome: str = TRAINING_OUTCOME
) -> Iterator[Runner]:
    """Yield the runner for ``scheduler`` and tidy it up afterwards.

    Parameters
    ----------
    scheduler : str, SchedulerSpec, distributed.Client or None
        See the module docstring; ``None`` reads ``$MLMICRO_SCHEDULER`` and
        falls back to local threads.
    jobs : int
        Threads of the local runner (ignored on a cluster, whose workers
        decide the parallelism).
    outcome : str
        What a failed run on the cluster means, ending its error message.

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
            runner = DaskRunner(client, outcome=outcome)
            try:
                yield runner
            finally:
                runner.release()
        return
    import_distributed()
    runner = DaskRunner(resolved, outcome=outcome)
    try:
        yield runner
    finally:
        runner.release()
