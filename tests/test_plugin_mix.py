"""``beet deejai mix`` on a real library (:func:`conftest.deejai_library`: twelve generated
tracks, embedded on import with the shipped model)."""

from __future__ import annotations

import os

import av
import pytest
from audio_fixtures import tone, write_audio
from beets.ui import UserError
from mediafile import MediaFile

#: What a mix's tracklist names a track by; the query commands are asked to print the same.
LABEL = "$artist - $title"


def _labels(out: str) -> list[str]:
    """``artist - title`` of each printed line (a mix's lines start with a time)."""
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return [line.split("  ", 1)[1] if line[0].isdigit() else line for line in lines]


def _times(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def test_a_beet_process_mixes_the_seeds_in_order(deejai_library, tmp_path):
    out = tmp_path / "mix.mp3"
    done = deejai_library.beet(
        "deejai", "mix", "chord-1", "slowclicks-2", "-o", str(out), "--crossfade", "2", probe=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["   0:00  chord - chord-1", "   0:10  slowclicks - slowclicks-2"]
    assert lines[2] == "HEAVY=av"  # no TensorFlow to mix
    assert "deejai mix: 2 tracks" in done.stderr and str(out) in done.stderr
    with av.open(str(out)) as container:
        seconds = sum(f.samples for f in container.decode(audio=0)) / 44100
    assert 18 < seconds < 22  # 12 + 12 s less the 2-s crossfade and trimmed silence
    assert 'TITLE "slowclicks-2"' in (tmp_path / "mix.mp3.cue").read_text(encoding="utf-8")
    assert (
        (tmp_path / "mix.mp3.txt")
        .read_text(encoding="utf-8")
        .splitlines()[1]
        .endswith("slowclicks - slowclicks-2")
    )


def test_a_one_track_mix_says_one_track(deejai_library, tmp_path):
    out = tmp_path / "one.flac"
    done = deejai_library.beet("deejai", "mix", "chord-1", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "deejai mix: 1 track, 0:" in done.stderr
    assert "1 tracks" not in done.stderr


def test_journey_mix_is_what_journey_prints(deejai_library):
    printed, _ = deejai_library.run_output(
        "deejai", "journey", "chord-1", "noise-1", "--via", "fastclicks-2", "-n", "1", "-f", LABEL
    )
    mixed, _ = deejai_library.run_output(
        "deejai", "mix", "--journey", "chord-1", "noise-1", "--via", "fastclicks-2", "-n", "1",
        "--dry-run",
    )  # fmt: skip
    assert _labels(mixed) == _labels(printed) and len(_labels(mixed)) == 5
    assert _times(mixed)[0] == "0:00"


def test_between_is_a_journey_per_leg(deejai_library):
    printed, _ = deejai_library.run_output(
        "deejai", "journey", "chord-1", "noise-1", "--via", "fastclicks-2", "-n", "1", "-f", LABEL
    )
    mixed, _ = deejai_library.run_output(
        "deejai", "mix", "--between", "1", "chord-1", "fastclicks-2", "noise-1", "--dry-run"
    )
    assert _labels(mixed) == _labels(printed)


def test_playlist_mix_is_what_playlist_prints(deejai_library):
    printed, _ = deejai_library.run_output("deejai", "playlist", "chord-1", "-n", "3", "-f", LABEL)
    mixed, _ = deejai_library.run_output(
        "deejai", "mix", "--playlist", "chord-1", "-n", "3", "--dry-run"
    )
    assert _labels(mixed) == _labels(printed) and len(_labels(mixed)) == 4


def test_tracks_file_takes_m3u_paths_and_queries(deejai_library, tmp_path):
    item = next(iter(deejai_library.lib.items("noise-2")))
    relative = os.path.relpath(os.fsdecode(item.path), tmp_path)
    listing = tmp_path / "list.m3u"
    listing.write_text(f"#EXTM3U\n#EXTINF:12,noise - noise-2\n{relative}\n\nchord-3\n")
    mixed, _ = deejai_library.run_output(
        "deejai", "mix", "slowclicks-1", "--tracks", str(listing), "--dry-run"
    )
    assert _labels(mixed) == ["slowclicks - slowclicks-1", "noise - noise-2", "chord - chord-3"]


def test_excerpt_uses_that_much_of_each_track(deejai_library):
    mixed, _ = deejai_library.run_output(
        "deejai", "mix", "chord-1", "chord-2", "chord-3", "--excerpt", "5", "--crossfade", "1",
        "--dry-run",
    )  # fmt: skip
    assert _times(mixed) == ["0:00", "0:04", "0:08"]  # 5-s parts joined by 1-s crossfades


def test_an_unreadable_file_is_named_and_left_out_unless_strict(deejai_library, tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"not audio " * 500)
    out = tmp_path / "mix.wav"
    outside = tmp_path / "outside.flac"
    write_audio(outside, tone(4.0, 22050, 500.0), 22050)
    tags = MediaFile(outside)
    tags.artist, tags.title = "Guest", "Visitor"
    tags.save()
    mixed, logs = deejai_library.run_output(
        "deejai", "mix", "chord-1", str(bad), str(outside), "-o", str(out)
    )
    assert _labels(mixed) == ["chord - chord-1", "Guest - Visitor"]  # tags of an outside file
    named = [line for line in logs if str(bad) in line]
    assert len(named) == 1 and named[0].startswith("mix: leaving out ")  # logger adds "deejai: "
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["broken.mp3", "mix.wav", "mix.wav.cue", "mix.wav.txt", "outside.flac"]
    for name in written[1:4]:
        (tmp_path / name).unlink()
    with pytest.raises(UserError, match="broken.mp3"):
        deejai_library.run_output("deejai", "mix", "chord-1", str(bad), "-o", str(out), "--strict")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp3", "outside.flac"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["chord-1"], "-o MIX.mp3 is needed"),
        (["chord-1", "-o", "mix.aiff"], "unknown output format 'aiff'"),
        (["-o", "mix.mp3"], "the tracks to mix are needed"),
        (["--journey", "chord-1", "--dry-run"], "two seeds are needed"),
        (["nothing-matches-this", "--dry-run"], "no item matches"),
    ],
)
def test_bad_arguments_get_a_clear_error(deejai_library, args, message):
    with pytest.raises(UserError, match=message):
        deejai_library.run_output("deejai", "mix", *args)


def test_ctrl_c_in_a_beet_process_leaves_nothing(deejai_library, tmp_path):
    import signal
    import subprocess
    import sys
    import textwrap

    from conftest import ROOT

    # 54 tracks: the mix takes seconds, long after the first one is done
    seeds = [f"{kind}-{i}" for i in (1, 2, 3) for kind in ("chord", "noise", "fastclicks")] * 6
    script = textwrap.dedent(
        """
        import sys
        from beets.ui import main
        main(sys.argv[1:])
        """
    )
    env = dict(os.environ, BEETSDIR=str(deejai_library.temp_path))
    env["HOME"] = str(deejai_library.temp_path)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = tmp_path / "mix.flac"
    process = subprocess.Popen(
        [sys.executable, "-c", script, "deejai", "mix", *seeds, "-o", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:  # progress: a line every 5 tracks when not on a terminal
            if line.startswith("deejai: 5/54 items"):
                break
        assert list(tmp_path.iterdir())  # the temporary files exist by now
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0, rest
    assert "interrupted; nothing was written" in rest
    assert list(tmp_path.iterdir()) == []
