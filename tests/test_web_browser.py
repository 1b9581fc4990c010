"""The browser DJ's page driven in headless Chromium (selenium + Debian's chromium-driver)
against a real ``beet deejai serve`` process on a free loopback port.

Set ``DEEJAI_SCREENSHOT=docs/serve.png`` to save the page as documented.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import chord, write_audio
from conftest import ROOT, kind_of
from system_tools import free_port, require, until, wait_for_port

pytestmark = pytest.mark.slow

MIC_RATE = 48000


def _png(path: Path, size: int = 96) -> Path:
    """A small cover: a diagonal gradient (written with zlib, no imaging library)."""
    y, x = np.mgrid[0:size, 0:size]
    rgb = np.stack([40 + x * 2, 80 + y, 160 + (x + y) // 3], axis=-1).clip(0, 255).astype(np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="module")
def server(deejai_library, tmp_path_factory):
    """``beet deejai serve`` on a free port (the chord album has cover art)."""
    cover = _png(tmp_path_factory.mktemp("art") / "cover.png")
    album = next(iter(deejai_library.lib.albums("album:chord")))
    album.artpath = str(cover).encode()
    album.store()
    deejai_library.write_config()
    port = free_port()
    env = dict(
        os.environ, BEETSDIR=str(deejai_library.temp_path), HOME=str(deejai_library.temp_path)
    )
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from beets.ui import main; main(sys.argv[1:])"]
        + ["deejai", "serve", "--port", str(port), "--ahead", "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not wait_for_port(port, 120):
            process.terminate()
            pytest.fail(f"serve did not start: {process.communicate(timeout=20)}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.communicate(timeout=20)
        album.artpath = None
        album.store()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium whose microphone hears chord-1's notes (a generated WAV, looped)."""
    tools = require("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    take = write_audio(tmp_path_factory.mktemp("mic") / "mic.wav", chord(8.0, MIC_RATE), MIC_RATE)
    options = webdriver.ChromeOptions()
    options.binary_location = tools["chromium"]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=900,1000",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={take}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(tools["chromedriver"]))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The page, read and clicked the way a listener would."""

    def __init__(self, driver, url: str):
        from selenium.webdriver.common.by import By

        self.driver = driver
        self.by = By
        driver.get(url)
        until(lambda: self.js("return document.readyState") == "complete", 10, "the page")

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def el(self, element_id: str):
        return self.driver.find_element(self.by.ID, element_id)

    def now(self) -> str:
        return self.el("now").get_attribute("data-id")

    def title(self) -> str:
        return self.el("title").text

    def queue(self) -> list[str]:
        items = self.driver.find_elements(self.by.CSS_SELECTOR, "#queue li")
        return [li.get_attribute("data-id") for li in items]

    def queue_text(self) -> list[str]:
        return [li.text for li in self.driver.find_elements(self.by.CSS_SELECTOR, "#queue li")]

    def player(self, prop: str):
        return self.js(f"return document.getElementById('player').{prop}")

    def set_range(self, element_id: str, value: float) -> None:
        self.js(
            "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
            "e.dispatchEvent(new Event('change'));",
            element_id,
            value,
        )

    def playing_for_real(self) -> bool:
        return not self.player("paused") and self.player("currentTime") > 0.2

    def player_state(self) -> dict:
        return self.js(
            "const p = document.getElementById('player'); return {src: p.src, paused: p.paused,"
            " time: p.currentTime, ready: p.readyState, network: p.networkState,"
            " error: p.error && p.error.message,"
            " title: document.getElementById('title').textContent,"
            " status: document.getElementById('status')"
            ".textContent};"
        )


def _seed(page: Page, text: str) -> None:
    box = page.el("q")
    box.clear()
    box.send_keys(text)
    page.el("seed").click()


def test_a_search_seed_starts_playback_that_seeks_and_advances(browser, server):
    page = Page(browser, server)
    page.el("q").send_keys("artist:slowclicks")
    suggestions = until(
        lambda: browser.find_elements(page.by.CSS_SELECTOR, "#suggestions li"), 10, "suggestions"
    )
    assert all("slowclicks" in li.text for li in suggestions) and len(suggestions) == 3
    _seed(page, "title:slowclicks-2")
    until(lambda: page.title() == "slowclicks-2", 10, "the seed to show", page.player_state)
    until(page.playing_for_real, 15, "playback to start", page.player_state)
    queue = page.queue()
    assert len(queue) == 4
    assert kind_of(page.queue_text()[0].split(" - ")[-1]) == "slowclicks"
    # seek near the end: the browser fetches the file with range requests
    duration = page.player("duration")
    assert duration > 10
    page.js("const p = document.getElementById('player'); p.currentTime = p.duration - 1.0;")
    until(lambda: page.player("currentTime") >= duration - 1.2, 10, "the seek")
    # when it ends, the next queued track plays
    until(lambda: page.now() == queue[0], 15, "playback to advance to the queued track")
    until(page.playing_for_real, 15, "the next track to play")
    assert page.queue()[:3] == queue[1:]


def test_keep_on_and_drunk_change_the_queue(browser, server):
    page = Page(browser, server)
    _seed(page, "title:noise-1")
    until(lambda: page.title() == "noise-1", 10, "the seed")
    calm = page.queue()
    queues = []
    for noise in (2, 1.95) * 5:
        page.set_range("noise", noise)
        until(lambda n=noise: page.el("noise-value").text == str(n), 10, "drunk to apply")
        time.sleep(0.3)
        queues.append(page.queue())
        if queues[-1] != calm:
            break
    assert queues[-1] != calm, (calm, queues)  # drunk enough, the queue wanders
    page.set_range("noise", 0)
    until(lambda: page.el("noise-value").text == "0", 10, "sober again")
    differs = []
    for seed in ("chord-1", "fastclicks-1", "slowclicks-1", "noise-2"):
        _seed(page, f"title:{seed}")
        until(lambda s=seed: page.title() == s, 10, "the seed", page.player_state)
        queues = []
        for lookback in (1, 10):
            page.set_range("lookback", lookback)
            until(lambda n=lookback: page.el("lookback-value").text == str(n), 10, "keep on")
            time.sleep(0.3)
            queues.append(page.queue())
        differs.append(queues[0] != queues[1])
    assert any(differs)  # a chain (keep on 1) and the whole history (10) part ways
    page.set_range("lookback", 3)


def test_skip_and_less_like_this_change_what_comes_next(browser, server):
    page = Page(browser, server)
    _seed(page, "title:chord-1")
    until(lambda: page.title() == "chord-1", 10, "the seed")
    until(lambda: page.js("return !document.getElementById('art').hidden"), 10, "album art")
    assert page.js("return document.getElementById('art').naturalWidth") == 96
    queue = page.queue()
    page.el("skip").click()
    until(lambda: page.now() == queue[0], 10, "skip to play the next track")
    assert page.queue()[:3] == queue[1:]
    until(page.playing_for_real, 15, "the next track to play")
    before = page.queue_text()
    assert "chord" in [kind_of(t.split(" - ")[-1]) for t in before]
    page.el("less").click()  # less like this chord: chords are kept out, and it moves on
    until(lambda: page.now() not in queue[:1], 10, "less like this to move on")
    after = [kind_of(t.split(" - ")[-1]) for t in page.queue_text()]
    assert "chord" not in after and kind_of(page.title()) != "chord"
    _seed(page, "title:chord-2")  # a new seed starts afresh: chords come back
    until(lambda: page.title() == "chord-2", 10, "the seed")
    assert "chord" in [kind_of(t.split(" - ")[-1]) for t in page.queue_text()]
    if os.environ.get("DEEJAI_SCREENSHOT"):
        until(lambda: page.player("currentTime") > 3, 15, "some playing", page.player_state)
        browser.save_screenshot(os.environ["DEEJAI_SCREENSHOT"])


def test_a_microphone_seed_plays_the_track_whose_beginning_it_heard(browser, server):
    page = Page(browser, server)
    page.el("mic").click()
    until(lambda: page.js("return !document.getElementById('matches-box').hidden"), 90, "a match")
    assert page.el("status").get_attribute("class") != "error", page.el("status").text
    heard = [li.text for li in browser.find_elements(page.by.CSS_SELECTOR, "#matches li")]
    assert page.title() == "chord-1", heard
    until(page.playing_for_real, 15, "the matched track to play")


def test_errors_show_on_the_page(browser, server):
    page = Page(browser, server)
    _seed(page, "../../etc/passwd")
    until(lambda: "paths are not accepted" in page.el("status").text, 10, "the error")
    assert page.el("status").get_attribute("class") == "error"


def test_a_journey_from_the_page(browser, server):
    page = Page(browser, server)
    page.el("journey-box").click()  # open the details
    page.el("ja").send_keys("title:fastclicks-1")
    page.el("jvia").send_keys("title:noise-2")
    page.el("jb").send_keys("title:chord-3")
    box = page.el("jn")
    box.clear()
    box.send_keys("1")
    page.el("journey").click()
    until(lambda: page.title() == "fastclicks-1", 10, "the journey to start", page.player_state)
    titles = [t.split(" - ")[-1] for t in page.queue_text()]
    assert titles[1] == "noise-2" and titles[3] == "chord-3", titles


def test_an_uploaded_file_seeds_the_page(browser, server, tmp_path):
    page = Page(browser, server)
    path = write_audio(tmp_path / "mine.wav", chord(8.0, 22050, freqs=[233.0, 293.7, 349.2]), 22050)
    page.js("document.getElementById('upload').parentElement.style.display = 'inline';")
    page.js("document.getElementById('upload').style.display = 'inline';")
    page.el("upload").send_keys(str(path))
    until(lambda: kind_of(page.title()) == "chord", 90, "the upload to seed", page.player_state)
    assert page.el("status").get_attribute("class") != "error"
    until(page.playing_for_real, 15, "the pick to play", page.player_state)
