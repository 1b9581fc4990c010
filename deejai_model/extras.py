"""Optional parts of the install, and the one-line message when a feature needs one.

The plain install (``pip install beets-deejai``) carries what embedding, the queries, the
mixes, the web DJ and the radio need. Training and the Keras runtime need the ``train`` extra
(TensorFlow, Keras, gensim, h5py), beat-aligned joins of mixes the ``beats`` extra (librosa),
``beet deejai daily``'s grouping the ``daily`` extra (SciPy's k-means), the DJ page's t-SNE map
the ``map`` extra (scikit-learn; without it the map is PCA), ``embed --dask`` the ``dask`` extra
(Dask distributed).
A feature that needs an extra calls :func:`require_extra` first, so that its absence is one
clear line naming the extra, not an ``ImportError`` traceback halfway through the work.
Nothing is imported to find out (``importlib.util.find_spec``).
"""

from __future__ import annotations

import importlib.util

from deejai_model.errors import DeejaiError

__all__ = ["EXTRAS", "MissingExtraError", "missing_modules", "require_extra"]

#: The modules each extra brings (import names), as declared in setup.cfg.
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("tensorflow", "keras", "gensim"),
    "beats": ("librosa",),
    "daily": ("scipy",),
    "map": ("sklearn",),
    "dask": ("distributed",),
}


class MissingExtraError(DeejaiError, ImportError):
    """A feature needs an extra that is not installed; ``str()`` is one line with the fix."""


def missing_modules(names: tuple[str, ...]) -> list[str]:
    """Those of the modules ``names`` (import names) that cannot be imported here."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or blocked install
            found = False
        if not found:
            missing.append(name)
    return missing


def require_extra(extra: str, feature: str, *, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`MissingExtraError` unless every module of ``extra`` is installed.

    Parameters
    ----------
    extra : str
        a key of :data:`EXTRAS`.
    feature : str
        What needs it, as the user asked for it (e.g. ``"deejai train"``).
    modules : tuple of str, optional
        The modules of the extra the feature needs (default: all of them).

    Raises
    ------
    MissingExtraError
        ``"<feature> needs <modules>, which the plain install leaves out: pip install
        'beets-deejai[<extra>]'"`` (the pipx form too).
    """
    missing = missing_modules(EXTRAS[extra] if modules is None else modules)
    if missing:
        raise MissingExtraError(
            f"{feature} needs {', '.join(missing)}, which the plain install leaves out: "
            f"pip install 'beets-deejai[{extra}]' "
            f"(or, beets installed with pipx: pipx inject beets 'beets-deejai[{extra}]')"
        )
