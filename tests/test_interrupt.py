"""deejai_model.interrupt: Ctrl-C (a real SIGINT to this process) deferred to safe points,
never lost, the previous handler restored; and PyAV decodes that stop between packets."""

from __future__ import annotations

import os
import signal
import threading
import traceback

import pytest
from audio_fixtures import music, write_audio

from deejai_model.ears import audio
from deejai_model.interrupt import check, deferred_sigint


def _press() -> None:
    """Ctrl-C as a terminal sends it: SIGINT to this process (handled in the main thread)."""
    signal.raise_signal(signal.SIGINT)


def test_a_press_waits_for_the_check_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_sigint() as stop_if_pressed:
            _press()
            reached.append("after the press")  # deferred: the code goes on to its check
            stop_if_pressed()
            reached.append("after the check")
    assert reached == ["after the press"]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_press_after_the_last_check_is_passed_on_not_lost():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_sigint():
            _press()
            reached.append("scope body ends")
        reached.append("after the scope")  # the press is raised as the scope closes
    assert reached == ["scope body ends"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_press_stops_at_once():
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_sigint():
            _press()
            reached.append("first press deferred")
            _press()
            reached.append("after the second press")
    assert reached == ["first press deferred"]


def test_nested_scopes_hand_an_unchecked_press_outwards():
    with deferred_sigint() as outer_check:
        with deferred_sigint():
            _press()
        # the inner scope passed the press to the outer handler, which only flags it
        with pytest.raises(KeyboardInterrupt):
            outer_check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_press_no_interrupt_and_check_outside_a_scope_is_a_no_op():
    with deferred_sigint() as stop_if_pressed:
        stop_if_pressed()
    check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_sigint() as stop_if_pressed:
            _press()
            stop_if_pressed()  # nothing: Ctrl-C is ignored by whoever set SIG_IGN
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_other_threads_leave_the_handler_alone():
    seen: list = []

    def worker() -> None:
        with deferred_sigint() as stop_if_pressed:
            seen.append(signal.getsignal(signal.SIGINT))
            stop_if_pressed()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    """Four minutes at 44.1 kHz: decoding it to 16 kHz takes well over the press delay."""
    return write_audio(tmp_path_factory.mktemp("long") / "long.wav", music(240.0, 44100), 44100)


@pytest.mark.parametrize("call", ["decode", "decode_excerpts"])
def test_a_decode_stops_between_packets_never_inside_ffmpeg(long_wav, call):
    import av  # noqa: F401 - imported before the clock starts

    path = os.fspath(long_wav)
    timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            for _ in range(50):  # far longer than 0.05 s, in case this machine is fast
                if call == "decode":
                    audio.decode(path, 16000)
                else:
                    audio.decode_excerpts(
                        path, 16000, starts=[float(s) for s in range(0, 230, 5)], length=3.0
                    )
    finally:
        timer.cancel()
    # raised by the check between packets (deejai_model/interrupt.py), not inside PyAV's calls
    innermost = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert innermost.filename.endswith(os.path.join("deejai_model", "interrupt.py"))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("read", ["decode", "probe_duration"])
def test_a_press_while_the_file_opens_leaves_no_file_open(tmp_path, monkeypatch, read):
    """Ctrl-C during FFmpeg's open is raised once it returns, and the file it opened is closed."""
    path = write_audio(tmp_path / "song.flac", music(4.0, 22050), 22050)
    opened = []
    real_open = audio.open_audio

    class Watched:
        """The opened container, with its close() counted."""

        def __init__(self, container) -> None:
            self._container = container
            self.closed = False

        def __getattr__(self, name: str):
            return getattr(self._container, name)

        def close(self) -> None:
            self.closed = True
            self._container.close()

    def open_then_press(p):
        container, stream = real_open(p)
        opened.append(Watched(container))
        _press()  # as if Ctrl-C came while FFmpeg read the header
        return opened[-1], stream

    monkeypatch.setattr(audio, "open_audio", open_then_press)
    with pytest.raises(KeyboardInterrupt):
        if read == "decode":
            audio.decode(path, 16000)
        else:
            audio.probe_duration(path)
    assert opened and all(container.closed for container in opened)
