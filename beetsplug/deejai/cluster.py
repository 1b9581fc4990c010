"""``beet deejai embed --dask ADDRESS``: embed on a Dask cluster, this process the only writer.

:class:`ClusterEmbedder` has the local embedder's ``embed_paths(paths)``: it yields
``(path, TrackSlices or AudioError)`` as results come back, so the embedding loop
(:func:`beetsplug.deejai.importer.embed_items`) stores, commits, resumes and stops on Ctrl-C
exactly as it does with the local embedder.  The work itself runs on the workers
(:mod:`deejai_model.ears.remote`): one task per file through ``Client.submit``, at most a few per
worker thread in flight (``as_completed``), each worker loading the bundle once (a
``WorkerPlugin``).

- Before any work every worker's package version and model id are checked: a worker that
  differs stops the run with a message naming it (nothing is embedded).
- Files are named to the workers through the path map (``--path-map /music=/mnt/music``).
- A worker that dies mid-task: the scheduler runs its task again elsewhere (Dask's own
  resilience, ``distributed.scheduler.allowed-failures``), plus ``retries`` for a task that
  raised; a file is lost only when that is exhausted, and then it is a failed item of the run.
- A scheduler that goes away ends the run with :class:`~beets.ui.UserError` after the loop has
  committed what came back (run again to resume).
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence

from beets.ui import UserError

from deejai_model.errors import AudioError, UndecodableAudioError

#: Tasks in flight per worker thread (enough to keep each busy while results travel).
IN_FLIGHT_PER_THREAD = 4
#: Times a task that raised is run again (a killed worker is handled by the scheduler).
RETRIES = 2
#: Seconds to wait for the scheduler when connecting.
CONNECT_TIMEOUT = 20


def parse_path_map(specs: Iterable[str]) -> list[tuple[str, str]]:
    """``["/music=/mnt/music", ...]`` (or one comma-separated string each) as
    ``[(local prefix, worker prefix)]``, longest local prefix first.

    Raises
    ------
    UserError
        For an entry without ``=``.
    """
    pairs = []
    for spec in specs:
        for entry in str(spec).split(","):
            if not entry.strip():
                continue
            local, sep, remote = entry.partition("=")
            if not sep or not local.strip():
                raise UserError(f"deejai: --path-map wants LOCAL=WORKER, got {entry!r}")
            pairs.append((local.strip().rstrip("/") or "/", remote.strip().rstrip("/") or "/"))
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def map_path(path: str | bytes, path_map: Sequence[tuple[str, str]]) -> str:
    """The worker's name for the local file ``path`` (the first matching prefix replaced)."""
    text = os.fsdecode(path)
    for local, remote in path_map:
        if text == local or text.startswith(local.rstrip("/") + "/"):
            return remote.rstrip("/") + text[len(local.rstrip("/")) :]
    return text


def _lost_scheduler(error: BaseException) -> bool:
    """Whether ``error`` from a future means the client lost its scheduler."""
    from asyncio import CancelledError
    from concurrent.futures import CancelledError as FutureCancelled

    from distributed.comm.core import CommClosedError

    return isinstance(error, CancelledError | FutureCancelled | CommClosedError | OSError)


def _quiet_dask_logs() -> None:
    """Silence distributed's own loggers in this process (each has its level from Dask's
    configuration): the client logs tracebacks when the scheduler goes, even after the run
    (its reconnect task); one line of ours says it instead."""
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


class ClusterEmbedder:
    """Embeds files on the Dask cluster at ``address`` (see the module text).

    Parameters
    ----------
    address : str
        The scheduler, e.g. ``tcp://nas:8786``.
    bundle : str
        The bundle directory here (named to the workers through ``path_map``).
    model_id : str
        This library's model id; every worker must have the same.
    max_slices, batch_size : int
        The plugin's settings (the same slices as a local run).
    path_map : list of (str, str)
        :func:`parse_path_map`'s pairs.
    stream : file, optional
        Where the worker lines go (default ``sys.stderr``).
    """

    def __init__(
        self,
        address: str,
        *,
        bundle: str,
        model_id: str,
        max_slices: int,
        batch_size: int,
        path_map: Sequence[tuple[str, str]] = (),
        stream=None,
    ):
        self.address = address
        self.bundle = bundle
        self.model_id = model_id
        self.max_slices = max_slices
        self.batch_size = batch_size
        self.path_map = list(path_map)
        self.stream = stream or sys.stderr

    def _say(self, text: str) -> None:
        self.stream.write(f"deejai: {text}\n")
        self.stream.flush()

    def _connect(self):
        from deejai_model.extras import MissingExtraError, require_extra

        try:
            require_extra("dask", "deejai embed --dask")
        except MissingExtraError as error:
            raise UserError(str(error)) from None
        from distributed import Client

        try:
            return Client(self.address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise UserError(
                f"deejai: cannot reach the Dask scheduler at {self.address}: {error}"
            ) from None

    def check_workers(self, client) -> dict[str, str]:
        """``{worker address: host}`` of the cluster's workers, all checked to embed with this
        package version and model id.

        Raises
        ------
        UserError
            When there is no worker, or a worker differs (each one named, with what it has).
        """
        from deejai_model import __version__
        from deejai_model.ears.remote import identity

        found = client.run(identity, map_path(self.bundle, self.path_map))
        if not found:
            raise UserError(f"deejai: the Dask cluster at {self.address} has no worker")
        wrong = []
        for worker, ident in sorted(found.items()):
            if ident.problem:
                wrong.append(f"{worker}: cannot read the bundle at {ident.bundle}: {ident.problem}")
            elif ident.version != __version__ or ident.model_id != self.model_id:
                wrong.append(
                    f"{worker}: beets-deejai {ident.version} with model {ident.model_id} "
                    f"(this library: {__version__} with {self.model_id})"
                )
        if wrong:
            raise UserError(
                "deejai: refusing Dask workers that would embed differently (stop them or "
                "install the same version and bundle):\n  " + "\n  ".join(wrong)
            )
        info = client.scheduler_info(n_workers=-1)["workers"]
        return {worker: str(info.get(worker, {}).get("host", worker)) for worker in found}

    def _threads(self, client) -> int:
        return max(1, sum(client.nthreads().values()))

    def embed_paths(self, paths: Iterable[str]) -> Iterator[tuple[str, object]]:
        """Embed ``paths`` on the cluster; yields ``(path, TrackSlices or AudioError)`` in the
        order they finish (``path`` as given, not as the workers name it).

        Raises
        ------
        UserError
            When the scheduler cannot be reached or goes away, or a worker is refused.
        """
        paths = [os.fspath(p) for p in paths]
        yield from self._run(paths)

    def _run(self, paths: list[str]) -> Iterator[tuple[str, object]]:
        from distributed import as_completed

        from deejai_model import __version__
        from deejai_model.ears.remote import PLUGIN_NAME, EmbedderPlugin, WrongWorker, embed_file

        _quiet_dask_logs()
        client = self._connect()
        futures: dict = {}
        try:
            workers = self.check_workers(client)
            client.register_plugin(
                EmbedderPlugin(
                    map_path(self.bundle, self.path_map),
                    self.model_id,
                    max_slices=self.max_slices,
                    batch_size=self.batch_size,
                ),
                name=PLUGIN_NAME,
            )
            hosts = sorted(set(workers.values()))
            self._say(
                f"embedding on {len(workers)} Dask workers ({self._threads(client)} threads) "
                f"on {', '.join(hosts)} at {self.address}"
            )
            todo = iter(paths)
            token = f"{os.getpid()}-{time.monotonic_ns()}"
            numbers = itertools.count()  # a key per task: a reused key is the same task

            def submit(path: str):
                future = client.submit(
                    embed_file,
                    map_path(path, self.path_map),
                    self.model_id,
                    __version__,
                    key=f"deejai-embed-{token}-{next(numbers)}-{os.path.basename(path)[:40]}",
                    retries=RETRIES,
                    pure=False,
                )
                futures[future] = path
                return future

            window = IN_FLIGHT_PER_THREAD * self._threads(client)
            first = [submit(p) for p in itertools.islice(todo, window)]
            queue = as_completed(first, loop=client.loop)
            seen_workers, checked = len(workers), time.monotonic()
            for future in queue:
                path = futures.pop(future)
                try:
                    result = future.result()
                except WrongWorker as error:
                    raise UserError(
                        f"deejai: refusing a Dask worker that joined: {error}"
                    ) from None
                except Exception as error:
                    if _lost_scheduler(error) or client.status != "running":
                        raise UserError(
                            f"deejai: lost the Dask scheduler at {self.address} "
                            f"({type(error).__name__}); what came back is stored: "
                            "run `beet deejai embed` again to resume"
                        ) from None
                    result = UndecodableAudioError(path, f"on the cluster: {error}")
                if isinstance(result, AudioError):  # named as the library names the file
                    result = type(result)(path, result.reason)
                nxt = next(todo, None)
                if nxt is not None:
                    queue.add(submit(nxt))
                yield path, result
                if time.monotonic() - checked > 10:
                    checked = time.monotonic()
                    now = len(client.scheduler_info(n_workers=-1)["workers"])
                    if now != seen_workers:
                        self._say(f"{now} Dask workers now (were {seen_workers})")
                        seen_workers = now
        finally:
            if futures and client.status == "running":
                try:
                    client.cancel(list(futures))
                except Exception:  # the scheduler is gone: nothing to cancel
                    pass
            client.close(timeout=5)


def cluster_embedder(model) -> ClusterEmbedder:
    """The :class:`ClusterEmbedder` of a :class:`~beetsplug.deejai.importer.ModelHandle` whose
    settings name a Dask scheduler (``deejai.dask``)."""
    s = model.settings
    return ClusterEmbedder(
        s.dask,
        bundle=model.path,
        model_id=model.model_id,
        max_slices=s.max_slices,
        batch_size=s.batch_size,
        path_map=parse_path_map(s.path_map),
    )


def use_cluster(session, address: str | None, path_map: Sequence[str]) -> None:
    """Make ``session`` embed on ``address`` (``None``: the configured ``deejai.dask``) with
    ``path_map`` added to the configured one (``embed --dask ADDRESS --path-map L=W``)."""
    import dataclasses

    settings = session.model.settings
    settings = dataclasses.replace(
        settings,
        dask=settings.dask if address is None else address,
        path_map=(*settings.path_map, *path_map),
    )
    if not settings.dask:
        raise UserError("deejai: --path-map needs --dask ADDRESS (or deejai.dask)")
    parse_path_map(settings.path_map)  # a malformed entry stops the run before any work
    session.model.settings = settings
