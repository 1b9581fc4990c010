"""deejai_model.vectors.adapt: a label-free projection that separates tracks."""

from __future__ import annotations

import numpy as np
import pytest

from deejai_model.vectors.adapt import fit_track_projection, project_slices


def _tracks(rng: np.random.Generator, n_tracks: int = 40, n_slices: int = 6) -> list[np.ndarray]:
    """Tracks that differ in dims 0-3; every slice also wanders a lot in dims 4-7 (nuisance)."""
    out = []
    for _ in range(n_tracks):
        centre = (
            np.concatenate([rng.normal(size=4), np.zeros(4)]) + np.r_[np.zeros(4), 3 * np.ones(4)]
        )
        noise = np.concatenate(
            [0.05 * rng.normal(size=(n_slices, 4)), 1.0 * rng.normal(size=(n_slices, 4))], axis=1
        )
        out.append((centre + noise).astype(np.float32))
    return out


def _same_track_nn(slices: list[np.ndarray]) -> float:
    """Fraction of slices whose nearest other slice (cosine) is of the same track."""
    x = np.concatenate(slices)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    owner = np.repeat(np.arange(len(slices)), [len(s) for s in slices])
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    return float(np.mean(owner[np.argmax(sims, axis=1)] == owner))


def test_projection_keeps_what_separates_tracks() -> None:
    tracks = _tracks(np.random.default_rng(0))
    projection = fit_track_projection(tracks, dims=4, shrink=0.1)
    assert projection.shape == (8, 4) and projection.dtype == np.float32
    basis, _ = np.linalg.qr(projection)
    assert np.sum(basis[:4] ** 2) / 4 > 0.9, "the kept directions are the track-separating ones"
    projected = project_slices(tracks, projection)
    assert [p.shape for p in projected] == [(6, 4)] * len(tracks)
    assert _same_track_nn(projected) > _same_track_nn(tracks) + 0.2


def test_deterministic_and_tolerates_odd_tracks() -> None:
    tracks = _tracks(np.random.default_rng(1), n_tracks=10)
    tracks += [np.zeros((0, 8), np.float32), tracks[0][:1]]  # no slices; a single slice
    a = fit_track_projection(tracks, dims=3)
    b = fit_track_projection(tracks, dims=3)
    np.testing.assert_array_equal(a, b)
    assert project_slices([np.zeros((0, 8), np.float32)], a)[0].shape == (0, 3)
    assert fit_track_projection(tracks, dims=50).shape == (8, 8)  # at most dim directions


def test_refuses_nothing_to_learn_from() -> None:
    with pytest.raises(ValueError):
        fit_track_projection([np.zeros((0, 8), np.float32)])
    with pytest.raises(ValueError):
        fit_track_projection(_tracks(np.random.default_rng(2)), dims=0)


def test_the_generalised_eigenproblem_matches_scipy_without_it() -> None:
    """The plain install has no SciPy: numpy solves ``a v = w b v`` as scipy.linalg.eigh does
    (same eigenvectors up to sign, ``V^T b V = I``)."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    from deejai_model.vectors.adapt import generalized_eigh

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(200, 40)), rng.normal(size=(300, 40))
    a, b = x.T @ x / 200, y.T @ y / 300 + 0.1 * np.eye(40)
    ours = generalized_eigh(a, b)
    _, theirs = scipy_linalg.eigh(a, b)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * signs, theirs, atol=1e-8)
    np.testing.assert_allclose(ours.T @ b @ ours, np.eye(40), atol=1e-10)


def test_fitting_imports_no_scipy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from deejai_model.vectors.adapt import fit_track_projection\n"
        "r = np.random.default_rng(0)\n"
        "p = fit_track_projection([r.normal(size=(8, 16)) for _ in range(10)], dims=4)\n"
        "assert p.shape == (16, 4)\n"
        "print('scipy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
