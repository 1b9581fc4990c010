"""The worker side of embedding on a Dask cluster (no beets here; needs ``distributed``).

Each Dask worker holds one :class:`deejai_model.ears.embed.Embedder`, loaded once by
:class:`EmbedderPlugin` (a ``distributed.WorkerPlugin``) when the client registers it, and turns
one file at a time into a :class:`deejai_model.ears.embed.TrackSlices` (or the file's
:class:`~deejai_model.errors.AudioError`), exactly as the local embedder does: the same
planner, front end and network.  The client (``beetsplug/deejai/cluster.py``) is the only
writer; workers never open the library.

Which bundle a worker loads: the bundle directory the client names, seen through the client's
path map, or, where the environment variable :data:`BUNDLE_ENV` is set on the worker, that one.
Before any work the client asks every worker for :func:`identity` and leaves out those whose
package version or model id differ from its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from distributed import WorkerPlugin, get_worker

#: A worker-side override of the bundle directory (e.g. where workers keep bundles elsewhere).
BUNDLE_ENV = "DEEJAI_WORKER_BUNDLE"
#: The worker plugin's name (one per worker; registering it again replaces it).
PLUGIN_NAME = "deejai-embedder"


@dataclass(frozen=True)
class WorkerIdentity:
    """What a worker would embed with.

    Attributes
    ----------
    version : str
        ``deejai_model.__version__`` on the worker.
    model_id : str
        The model id of the bundle the worker loads (``""`` when it has none).
    bundle : str
        That bundle's directory on the worker.
    problem : str
        Why the bundle could not be read (``""``: it could).
    """

    version: str
    model_id: str
    bundle: str
    problem: str = ""


def worker_bundle(bundle: str) -> str:
    """The bundle directory this worker uses for the client's (already path-mapped) ``bundle``."""
    return os.environ.get(BUNDLE_ENV) or bundle


def identity(bundle: str) -> WorkerIdentity:
    """This process's package version and the model id of the bundle it would load (cheap:
    the manifest only)."""
    from deejai_model import __version__
    from deejai_model.ears.manifest import read_manifest
    from deejai_model.errors import BundleError

    path = worker_bundle(bundle)
    try:
        return WorkerIdentity(__version__, read_manifest(path).model_id, path)
    except (BundleError, OSError) as error:
        return WorkerIdentity(__version__, "", path, str(error))


class EmbedderPlugin(WorkerPlugin):
    """Loads the bundle once per worker and keeps its :class:`Embedder`.

    Parameters
    ----------
    bundle : str
        The bundle directory as the worker sees it (path-mapped by the client).
    model_id : str
        The model id the client expects; a worker whose bundle has another refuses every task.
    max_slices, batch_size : int
        As the plugin's settings (the same slices as a local run).
    """

    name = PLUGIN_NAME

    def __init__(self, bundle: str, model_id: str, *, max_slices: int, batch_size: int):
        self.bundle = bundle
        self.model_id = model_id
        self.max_slices = max_slices
        self.batch_size = batch_size
        self.embedder = None

    def setup(self, worker=None) -> None:
        """Load the bundle (once per worker process)."""
        from deejai_model.ears.bundle import load_bundle
        from deejai_model.ears.embed import Embedder

        bundle = load_bundle(worker_bundle(self.bundle))
        self.embedder = Embedder(
            bundle, max_slices=self.max_slices, workers=1, batch_size=self.batch_size
        )

    def teardown(self, worker=None) -> None:
        self.embedder = None


class WrongWorker(RuntimeError):
    """A task reached a worker whose model is not the client's."""


def embed_file(path: str, model_id: str, version: str):
    """Run on a worker: ``path``'s :class:`TrackSlices`, or its ``AudioError`` (returned, not
    raised, as the local embedder yields it).

    Raises
    ------
    WrongWorker
        When this worker's package version or bundle's model id is not the client's
        (``version``, ``model_id``): a worker that joined after the client's check.
    """
    from deejai_model import __version__

    plugin = get_worker().plugins[PLUGIN_NAME]
    embedder = plugin.embedder
    found = None if embedder is None else embedder.bundle.model_id
    if found != model_id or __version__ != version:
        raise WrongWorker(
            f"{get_worker().address} embeds with beets-deejai {__version__} and model {found}, "
            f"not {version} and {model_id}"
        )
    ((_, result),) = embedder.embed_paths([path])
    return result
