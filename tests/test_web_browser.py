"""The browser DJ's page driven in headless Chromium (selenium + Debian's chromium-driver)
against a real ``beet deejai serve`` process on a free loopback port.

Desktop (1280 x 900) and phone (390 x 844) sizes.  Set ``DEEJAI_SCREENSHOTS=docs`` to save
the page at both sizes as documented (``docs/dj-desktop.png``, ``docs/dj-phone.png``).
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
#: Window sizes the page is tried at (CSS pixels).
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


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
        "--window-size=1280,900",
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

    def size(self, name: str) -> None:
        """Resize the window to ``"desktop"`` or ``"phone"`` (and let the map redraw)."""
        width, height = SIZES[name]
        self.driver.set_window_size(width, height)
        until(lambda: self.js("return window.innerWidth") <= width, 10, "the resize")
        time.sleep(0.3)

    def map_points(self) -> int:
        return int(self.el("map").get_attribute("data-points"))

    def map_path(self) -> int:
        return int(self.el("map").get_attribute("data-path"))

    def click_point(self, item_id: int) -> None:
        """Click the map where track ``item_id`` is drawn, as a mouse would."""
        from selenium.webdriver.common.action_chains import ActionChains

        canvas = self.el("map")
        self.js("arguments[0].scrollIntoView({block: 'center'});", canvas)
        spot = self.js("return window.deejaiMap.screenPosition(arguments[0]);", int(item_id))
        width, height = canvas.size["width"], canvas.size["height"]
        ActionChains(self.driver).move_to_element_with_offset(
            canvas, int(spot["x"] - width / 2), int(spot["y"] - height / 2)
        ).click().perform()

    def pick(self, box_id: str, text: str, title: str) -> None:
        """Type into a search box and pick the suggestion titled ``title``."""
        box = self.el(box_id)
        box.clear()
        box.send_keys(text)
        list_css = f"#{box_id} + .suggestions li, #{box_id} ~ ul li"

        def found():
            for li in self.driver.find_elements(self.by.CSS_SELECTOR, list_css):
                if li.text.split("\n")[0].endswith(f" - {title}"):
                    return li
            return None

        until(found, 10, f"a suggestion {title}").click()

    def key(self, key: str) -> None:
        """Press a key on the page (not in a text box)."""
        from selenium.webdriver.common.action_chains import ActionChains

        self.js("document.activeElement && document.activeElement.blur();")
        ActionChains(self.driver).send_keys(key).perform()

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def el(self, element_id: str):
        return self.driver.find_element(self.by.ID, element_id)

    def now(self) -> str:
        return self.el("now").get_attribute("data-id")

    def title(self) -> str:
        return self.el("title").text

    def queue(self) -> list[str]:
        # read in one script: the page redraws the queue while it plays (no stale elements)
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#queue li')]"
            ".map(li => li.getAttribute('data-id'))"
        )

    def queue_text(self) -> list[str]:
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#queue li .line')].map(l => l.innerText)"
        )

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
    until(lambda: "Noted: less like" in page.el("feedback-status").text, 10, "a sign it was taken")
    after = [kind_of(t.split(" - ")[-1]) for t in page.queue_text()]
    assert "chord" not in after and kind_of(page.title()) != "chord"
    _seed(page, "title:chord-2")  # a new seed starts afresh: chords come back
    until(lambda: page.title() == "chord-2", 10, "the seed")
    assert "chord" in [kind_of(t.split(" - ")[-1]) for t in page.queue_text()]


def test_a_microphone_seed_plays_the_track_whose_beginning_it_heard(browser, server):
    page = Page(browser, server)
    _seed(page, "title:noise-2")
    until(page.playing_for_real, 15, "the seed to play", page.player_state)
    page.js(  # note what the page asks of the microphone
        "const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);"
        "navigator.mediaDevices.getUserMedia = (c) => { window.asked = c; return ask(c); };"
    )
    page.el("mic").click()
    until(lambda: "listening" in page.el("mic-status").text, 10, "the microphone to listen")
    assert page.player("paused")  # the music pauses while the microphone listens
    assert page.js("return window.asked.audio.echoCancellation") is True
    until(lambda: page.js("return !document.getElementById('matches-box').hidden"), 90, "a match")
    assert "error" not in page.el("mic-status").get_attribute("class"), page.el("mic-status").text
    heard = [li.text for li in browser.find_elements(page.by.CSS_SELECTOR, "#matches li")]
    assert page.title() == "chord-1", heard
    until(page.playing_for_real, 15, "the matched track to play")


def test_errors_show_on_the_page(browser, server):
    page = Page(browser, server)
    _seed(page, "../../etc/passwd")
    # next to the search box that caused it, not at the bottom of the page
    until(lambda: "paths are not accepted" in page.el("search-status").text, 10, "the error")
    assert "error" in page.el("search-status").get_attribute("class")
    box, note = page.el("q").rect, page.el("search-status").rect
    assert 0 <= note["y"] - (box["y"] + box["height"]) < 60 and note["y"] < 900


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_journey_picked_by_search_shows_its_route_and_plays_in_order(browser, server, size):
    page = Page(browser, server)
    page.size(size)
    page.el("journey-box").click()  # open the details
    page.pick("ja", "fastclicks-1", "fastclicks-1")
    page.pick("jvia", "noise-2", "noise-2")
    page.pick("jb", "chord-3", "chord-3")
    assert "id:" not in page.el("ja").get_attribute("value")  # a name, never an id
    box = page.el("jn")
    box.clear()
    box.send_keys("1")
    page.el("journey").click()
    until(lambda: page.title() == "fastclicks-1", 10, "the journey to start", page.player_state)
    titles = [t.split(" - ")[-1] for t in page.queue_text()]
    assert titles[1] == "noise-2" and titles[3] == "chord-3", titles
    whys = page.js("return [...document.querySelectorAll('#queue .why')].map(e => e.textContent)")
    assert whys[:4] == [f"journey step {k} of 4" for k in range(1, 5)], whys
    route = page.js("return window.deejaiMap.path.route.length")
    assert route == 5  # the planned route is drawn before it plays
    for expected in titles[:4]:  # it plays in order
        page.el("skip").click()
        until(lambda e=expected: page.title() == e, 10, f"{expected} to play", page.player_state)
    page.size("desktop")


def test_an_uploaded_file_seeds_the_page(browser, server, tmp_path):
    page = Page(browser, server)
    path = write_audio(tmp_path / "mine.wav", chord(8.0, 22050, freqs=[233.0, 293.7, 349.2]), 22050)
    page.js("document.getElementById('upload').parentElement.style.display = 'inline';")
    page.js("document.getElementById('upload').style.display = 'inline';")
    page.el("upload").send_keys(str(path))
    until(lambda: kind_of(page.title()) == "chord", 90, "the upload to seed", page.player_state)
    assert page.el("status").get_attribute("class") != "error"
    until(page.playing_for_real, 15, "the pick to play", page.player_state)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_map_draws_every_track_and_a_click_plays_it(browser, server, deejai_library, size):
    page = Page(browser, server)
    page.size(size)
    until(lambda: page.map_points() == 12, 120, "the map", lambda: page.el("map-status").text)
    assert not browser.find_elements(page.by.CSS_SELECTOR, "#map-wrap [data-id]")  # no DOM dots
    legend = [li.text for li in browser.find_elements(page.by.CSS_SELECTOR, "#legend li")]
    page.js(
        "const s = document.getElementById('colour-by'); s.value = 'artist';"
        "s.dispatchEvent(new Event('change'));"
    )
    until(lambda: "chord (3)" in page.el("legend").text, 10, "colours by artist", lambda: legend)
    item = next(iter(deejai_library.lib.items("title:slowclicks-3")))
    page.click_point(item.id)
    until(lambda: page.now() == str(item.id), 10, "the clicked track to play", page.player_state)
    assert page.title() == "slowclicks-3"
    until(page.playing_for_real, 15, "playback", page.player_state)
    # hovering a point names the track
    page.click_point(item.id)
    until(lambda: page.el("map-tip").text == "slowclicks - slowclicks-3", 10, "the hover tip")
    page.size("desktop")


def test_the_path_grows_as_tracks_play(browser, server):
    page = Page(browser, server)
    until(lambda: page.map_points() == 12, 120, "the map")
    _seed(page, "title:fastclicks-2")
    until(lambda: page.title() == "fastclicks-2", 10, "the seed")
    until(lambda: page.map_path() == 1, 10, "the seed on the map")
    for grown in (2, 3):
        queued = page.queue()[0]
        page.js("const p = document.getElementById('player'); p.currentTime = p.duration - 0.5;")
        until(lambda q=queued: page.now() == q, 15, "the next track", page.player_state)
        until(lambda g=grown: page.map_path() == g, 10, f"a path of {grown}")


def test_keyboard_shortcuts_play_pause_next_and_less(browser, server):
    page = Page(browser, server)
    _seed(page, "title:chord-2")
    until(lambda: page.title() == "chord-2", 10, "the seed")
    until(page.playing_for_real, 15, "playback", page.player_state)
    page.key(" ")
    until(lambda: page.player("paused"), 5, "space to pause")
    page.key(" ")
    until(lambda: not page.player("paused"), 5, "space to play again")
    queued = page.queue()[0]
    page.key("n")
    until(lambda: page.now() == queued, 10, "n to play the next track", page.player_state)
    playing = page.now()
    page.key("l")
    until(lambda: page.now() != playing, 10, "l to move on")
    until(lambda: "Noted: less like" in page.el("feedback-status").text, 10, "feedback")
    assert page.js(f"return window.deejaiMap.path.disliked.includes({playing})")


def test_screenshots_of_both_sizes(browser, server):
    """Saved to ``$DEEJAI_SCREENSHOTS`` (e.g. ``docs``) when set; else the page at both sizes
    keeps its status line, now playing and map on screen."""
    page = Page(browser, server)
    until(lambda: page.map_points() == 12, 120, "the map")
    _seed(page, "title:chord-1")
    until(lambda: page.title() == "chord-1", 10, "the seed")
    for _ in range(2):
        queued = page.queue()[0]
        page.el("skip").click()
        until(lambda q=queued: page.now() == q, 10, "the next track")
    page.el("more").click()
    until(lambda: "Noted" in page.el("feedback-status").text, 10, "feedback")
    folder = os.environ.get("DEEJAI_SCREENSHOTS")
    for size in ("desktop", "phone"):
        page.size(size)
        page.js("window.scrollTo(0, 0);")
        status = page.el("status").rect
        assert status["y"] < 80  # the status line is at the top, not below the fold
        assert page.el("title").rect["y"] < SIZES[size][1]
        if folder:
            until(lambda: page.player("currentTime") > 2, 15, "some playing", page.player_state)
            browser.save_screenshot(os.path.join(folder, f"dj-{size}.png"))
    page.size("desktop")


def test_every_control_has_a_name_a_screen_reader_can_say(browser, server):
    page = Page(browser, server)
    page.el("journey-box").click()
    controls = browser.find_elements(page.by.CSS_SELECTOR, "button, input, select, summary")
    assert len(controls) > 15
    unnamed = [
        c.get_attribute("id") or c.get_attribute("outerHTML")[:80]
        for c in controls
        if not (c.accessible_name or "").strip()
    ]
    assert unnamed == []


def test_the_theme_follows_the_system(browser, server):
    page = Page(browser, server)

    def background() -> list[int]:
        colour = page.js("return getComputedStyle(document.body).backgroundColor")
        return [int(v) for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]

    try:
        for scheme, dark in (("dark", True), ("light", False)):
            browser.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            )
            until(lambda d=dark: (sum(background()) < 150) == d, 5, f"the {scheme} theme")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_clicks_on_the_map_set_a_journeys_points(browser, server, deejai_library):
    page = Page(browser, server)
    until(lambda: page.map_points() == 12, 120, "the map")
    page.js("document.getElementById('map-click').value = 'journey';")
    ids = {
        t: next(iter(deejai_library.lib.items(f"title:{t}"))).id
        for t in ("fastclicks-1", "noise-2", "chord-3")
    }
    for title in ("fastclicks-1", "chord-3", "noise-2"):  # from, to, then a waypoint
        page.click_point(ids[title])
        until(lambda t=title: t in page.el("journey-status").text, 10, f"{title} to be set")
    assert page.el("ja").get_attribute("value") == "fastclicks - fastclicks-1"
    assert page.el("jb").get_attribute("value") == "chord - chord-3"
    assert page.el("jvia").get_attribute("value") == "noise - noise-2"
    box = page.el("jn")
    box.clear()
    box.send_keys("1")
    page.el("journey").click()
    until(lambda: page.title() == "fastclicks-1", 10, "the journey to start", page.player_state)
    titles = [t.split(" - ")[-1] for t in page.queue_text()]
    assert titles[1] == "noise-2" and titles[3] == "chord-3", titles


def test_the_queue_buttons_move_and_remove_tracks(browser, server):
    page = Page(browser, server)
    _seed(page, "title:noise-3")
    until(lambda: page.title() == "noise-3", 10, "the seed")
    queue = page.queue()
    rows = browser.find_elements(page.by.CSS_SELECTOR, "#queue li")
    rows[0].find_element(
        page.by.CSS_SELECTOR, "button[aria-label^='Move'][aria-label$='down']"
    ).click()
    until(lambda: page.queue()[:2] == [queue[1], queue[0]], 10, "the first track to move down")
    rows = browser.find_elements(page.by.CSS_SELECTOR, "#queue li")
    rows[0].find_element(page.by.CSS_SELECTOR, "button[aria-label^='Remove']").click()
    until(lambda: queue[1] not in page.queue(), 10, "the track to leave the queue")
    assert "Removed" in page.el("queue-status").text
    assert page.queue()[0] == queue[0] and len(page.queue()) == 4
