"""``beet deejai radio`` against a real MPD (Debian's ``mpd``, null audio output, loopback only)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import kind_of
from system_tools import free_port, require, until, wait_for_port

pytestmark = pytest.mark.slow


class Mpd:
    """An MPD with a temporary config whose music directory is the test library."""

    def __init__(self, binary: str, music: Path, folder: Path):
        self.binary = binary
        self.port = free_port()
        self.folder = folder
        self.conf = folder / "mpd.conf"
        self.conf.write_text(
            "\n".join(
                [
                    f'music_directory "{music}"',
                    f'db_file "{folder / "mpd.db"}"',
                    f'log_file "{folder / "mpd.log"}"',
                    'bind_to_address "127.0.0.1"',
                    f'port "{self.port}"',
                    'audio_output {\n  type "null"\n  name "null"\n}',
                ]
            )
            + "\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--no-daemon", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait_for_port(self.port, 30):
            self.stop()
            pytest.fail(f"mpd did not start: {(self.folder / 'mpd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    def client(self):
        import mpd

        client = mpd.MPDClient()
        client.timeout = 10
        client.connect("127.0.0.1", self.port)
        return client


@pytest.fixture
def mpd_server(deejai_library, tmp_path):
    binary = require("mpd")["mpd"]
    server = Mpd(binary, deejai_library.lib_path, tmp_path)
    server.start()
    client = server.client()
    client.update()
    until(lambda: len(client.search("file", ".flac")) == 12, 30, "MPD to scan the library")
    client.close()
    client.disconnect()
    try:
        yield server
    finally:
        server.stop()


def _titles(client) -> list[str]:
    return [song.get("title", song["file"]) for song in client.playlistinfo()]


def test_radio_tops_the_queue_up_steers_away_from_a_skip_and_survives_a_restart(
    deejai_library, mpd_server
):
    deejai_library.write_config(  # one artist per kind here: no artist spacing, no records
        extra=f"mpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        f"  music_directory: {deejai_library.lib_path}\n",
        lists="{artist_gap: 0, vary: 1, record_plays: no}",
    )
    radio = _start_radio(deejai_library, "--ahead", "1", "--poll", "0.2", "title:chord-1")
    client = mpd_server.client()
    try:
        # the seed plays, and one track is kept queued after it: the nearest chord
        until(lambda: len(client.playlistinfo()) == 2, 60, "the radio to queue the seed and one")
        assert _titles(client)[0] == "chord-1"
        assert kind_of(_titles(client)[1]) == "chord"
        until(lambda: client.status().get("state") == "play", 10, "MPD to play")
        time.sleep(1.0)  # the radio has seen chord-1 play
        # skipping chord-1 early makes it "less like this": its near neighbours (the other
        # chords) are kept out, so the pick after chord-2 is not the last chord
        client.next()
        until(lambda: len(client.playlistinfo()) == 3, 20, "a pick after the skip")
        assert kind_of(_titles(client)[2]) != "chord", _titles(client)
        # MPD restarts with an empty queue: the radio reconnects and plays on
        client.close()
        client.disconnect()
        mpd_server.stop()
        time.sleep(1.0)
        mpd_server.start()
        client = mpd_server.client()
        until(lambda: len(client.playlistinfo()) >= 1, 30, "the radio to refill after a restart")
        until(lambda: client.status().get("state") == "play", 10, "MPD to play again")
        played_before = {"chord-1", "chord-2"}
        assert not played_before & set(_titles(client))
        assert radio.poll() is None  # still running
    finally:
        radio.terminate()
        out, err = radio.communicate(timeout=20)
    assert "lost MPD" in err, err
    assert "Traceback" not in err, err


def test_radio_never_queues_a_track_that_is_already_in_mpds_queue(deejai_library, mpd_server):
    """chord-2 and chord-3 (chord-1's nearest) sit earlier in the queue, e.g. played while the
    radio was not looking, or a file MPD failed on at once: the pick after chord-1 is new."""
    deejai_library.write_config(
        extra=f"mpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        f"  music_directory: {deejai_library.lib_path}\n"
    )
    client = mpd_server.client()
    for title in ("chord-2", "chord-3", "chord-1"):
        client.add(client.find("title", title)[0]["file"])
    client.play(2)
    radio = _start_radio(deejai_library, "--ahead", "1", "--poll", "0.2")
    try:
        until(lambda: len(client.playlistinfo()) == 4, 60, "the radio to queue one track")
        titles = _titles(client)
        assert titles[:3] == ["chord-2", "chord-3", "chord-1"]
        assert titles[3] not in titles[:3], titles
    finally:
        radio.terminate()
        _, err = radio.communicate(timeout=20)
    assert "Traceback" not in err, err


def test_radio_prints_a_dj_log_line_per_queued_track_without_verbose(deejai_library, mpd_server):
    deejai_library.write_config(
        extra=f"mpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        f"  music_directory: {deejai_library.lib_path}\n"
    )
    radio = _start_radio(
        deejai_library, "--ahead", "2", "--poll", "0.2", "title:noise-1", verbose=False
    )
    client = mpd_server.client()
    try:
        until(lambda: len(client.playlistinfo()) == 3, 60, "the radio to queue the seed and two")
        titles = _titles(client)
        time.sleep(0.5)
    finally:
        radio.terminate()
        out, err = radio.communicate(timeout=20)
    lines = [line for line in out.splitlines() if "  queued  " in line]
    assert len(lines) == 3, out
    assert lines[0].endswith("queued  noise - noise-1  (seed)"), lines
    assert lines[1].endswith(f"queued  noise - {titles[1]}  (nearest to the last one)"), lines
    assert lines[2].endswith(f"queued  noise - {titles[2]}  (nearest to the last 2)"), lines
    assert all(re.match(r"\d\d:\d\d:\d\d  queued  ", line) for line in lines), lines
    assert "Traceback" not in err, err


def _start_radio(env, *args: str, verbose: bool = True) -> subprocess.Popen:
    import os
    import sys

    from conftest import ROOT

    environ = dict(os.environ, BEETSDIR=str(env.temp_path), HOME=str(env.temp_path))
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from beets.ui import main; main(sys.argv[1:])"]
        + ["-v"] * verbose
        + ["deejai", "radio", *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_radio_says_clearly_when_mpd_is_not_there(deejai_library):
    port = free_port()
    deejai_library.write_config(extra=f"mpd:\n  host: 127.0.0.1\n  port: {port}\n")
    done = deejai_library.beet("deejai", "radio")
    assert done.returncode != 0
    assert f"deejai radio: cannot connect to MPD at 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_mpd_paths_map_to_items_under_its_music_directory_only(deejai_library):
    from beetsplug.deejai.radio import LibraryPaths

    lib = deejai_library.lib
    ids = [item.id for item in lib.items()]
    paths = LibraryPaths(lib, str(deejai_library.lib_path / "chord"), ids)
    chords = {item.id for item in lib.items("artist:chord")}
    assert set(paths.relative) == chords and paths.outside == set(ids) - chords
    for item_id, rel in paths.relative.items():
        assert not rel.startswith(("/", "..")) and paths.item_id(rel) == item_id
        assert paths.item_id("./" + rel) == item_id
    assert paths.item_id("http://radio.example/stream") is None
    assert paths.item_id("../noise/noise/noise-1.flac") is None


def test_the_radio_records_plays_and_skips_as_mpdstats_does(deejai_library, mpd_server):
    deejai_library.write_config(
        extra=f"mpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        f"  music_directory: {deejai_library.lib_path}\n",
    )
    radio = _start_radio(deejai_library, "--ahead", "1", "--poll", "0.2", "title:noise-1")
    client = mpd_server.client()
    seed = deejai_library.lib.items("title:noise-1").get()
    try:
        until(lambda: len(client.playlistinfo()) == 2, 60, "the radio to queue the seed and one")
        until(lambda: client.status().get("state") == "play", 10, "MPD to play")
        time.sleep(1.0)  # the radio has seen noise-1 start
        client.next()  # a skip: it leaves long before half its length

        def fields() -> dict[str, str]:  # what the radio's process wrote, read afresh
            import sqlite3

            with sqlite3.connect(deejai_library.config["library"].as_filename()) as db:
                rows = db.execute(
                    "SELECT key, value FROM item_attributes WHERE entity_id = ?", (seed.id,)
                ).fetchall()
            return dict(rows)

        def skips() -> int:
            return int(fields().get("skip_count", 0))

        deadline = time.monotonic() + 20
        while skips() != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        now = fields()
        recorded = (skips(), int(now.get("last_played", 0)), "play_count" in now)
    finally:
        radio.terminate()
        _, err = radio.communicate(timeout=20)
        import sqlite3

        with sqlite3.connect(deejai_library.config["library"].as_filename()) as db:  # as it was
            db.execute(
                "DELETE FROM item_attributes WHERE key IN ('play_count', 'skip_count', "
                "'last_played')"
            )
    assert "Traceback" not in err, err
    skipped, last_played, played = recorded
    assert skipped == 1, err
    assert abs(last_played - time.time()) < 120
    assert not played
