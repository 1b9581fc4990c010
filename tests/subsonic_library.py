"""The library the Subsonic tests serve: generated music embedded by the real model, cover
art as beets' ``artpath`` (chord) and embedded in the files (noise), one album without
vectors (late), a user with a password and an API key."""

from __future__ import annotations

from pathlib import Path

from conftest import KINDS, SR, DeejaiEnv, make_music
from mediafile import Image, ImageType, MediaFile
from test_web_browser import _png

USER, PASSWORD, API_KEY = "alice", "s3cret pass", "k" * 40
SUBSONIC_YAML = f"""  subsonic:
    users:
      {USER}:
        password: {PASSWORD}
        api_key: {API_KEY}
"""


def build(folder: Path) -> DeejaiEnv:
    """A library in ``folder``: 12 embedded tracks (4 albums), 1 not embedded (album late);
    playlists go to ``folder/playlists``."""
    music = make_music(folder / "music", per_kind=3, seconds=8.0)
    cover = _png(folder / "cover.png")
    noise_art = _png(folder / "noise.png", size=40).read_bytes()
    for path in music:
        if path.parent.name == "noise":
            tags = MediaFile(path)
            tags.images = [Image(noise_art, desc="front", type=ImageType.front)]
            tags.save()
    late = make_music(folder / "late-music", per_kind=1, seconds=6.0, kinds=["chord"])
    tags = MediaFile(late[0])
    tags.title, tags.artist, tags.album = "late-1", "late", "late"
    tags.save()
    env = DeejaiEnv()
    env.setup_beets()
    env.config["deejai"]["auto"] = True
    env.config["deejai"]["playlist_dir"] = str(folder / "playlists")
    env.import_music(folder / "music")
    env.config["deejai"]["auto"] = False
    env.import_music(folder / "late-music")
    album = next(iter(env.lib.albums("album:chord")))
    album.artpath = str(cover).encode()
    album.store()
    env.write_config(extra=SUBSONIC_YAML, playlist_dir=str(folder / "playlists"))
    env.cover = cover
    env.noise_art = noise_art
    return env


def library_fixture(tmp_path_factory):
    """:func:`build` for a test module's ``library`` fixture (``yield from`` it); tests may
    change it (plays, stars, playlists)."""
    env = build(tmp_path_factory.mktemp("subsonic"))
    try:
        yield env
    finally:
        env.teardown_beets()


__all__ = ["API_KEY", "KINDS", "PASSWORD", "SR", "USER", "build", "library_fixture"]
