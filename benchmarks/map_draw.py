"""How fast the DJ page's map draws in a real browser, at library sizes up to 50k tracks.

Loads the shipped ``map.js`` into headless Chromium (selenium + Debian's chromium-driver, as
the browser tests do) on a page holding only the map's canvases, hands it synthetic map data
(clustered points, 12 colours), and times, in the page (``performance.now()``):

- drawing every point (``drawBase``: one ``fillRect`` per point on one canvas, no DOM nodes);
- redrawing the path layer (``drawOver``: what each state change costs; 50 played tracks);
- finding the point under the mouse (``nearest``: what hover and click cost).

Each is the median of ``--repeats`` runs.  The floor, measured in the same run, is putting
one blank image of the canvas's size (what any pixel drawing pays at least).

Usage, from the repository root::

    nice python -m benchmarks.map_draw --sizes 1000,10000,50000
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import markdown_table  # noqa: E402

MAP_JS = Path(__file__).resolve().parent.parent / "beetsplug/deejai/web/static/map.js"

PAGE = """
document.body.innerHTML = '<div id="map-wrap" style="position:relative;width:900px;height:700px">'
  + '<canvas id="map" style="position:absolute;inset:0;width:100%;height:100%"></canvas>'
  + '<canvas id="map-over" style="position:absolute;inset:0;width:100%;height:100%"></canvas>'
  + '<div id="map-tip" hidden></div></div><ul id="legend"></ul>';
"""

MEASURE = """
const [n, repeats] = [arguments[0], arguments[1]];
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const x = [], y = [], codes = [], ids = [], labels = [];
for (let i = 0; i < n; i++) {
  const c = i % 12;
  x.push(0.5 + 0.35 * Math.cos(c) + 0.08 * (rand() - 0.5));
  y.push(0.5 + 0.35 * Math.sin(c) + 0.08 * (rand() - 0.5));
  codes.push(c); ids.push(i + 1); labels.push(`artist ${c} - track ${i}`);
}
const names = [...Array(12).keys()].map(String);
const map = new SoundMap(document.getElementById('map'), document.getElementById('map-over'),
  document.getElementById('map-tip'));
map.setData({n, ids, x, y, labels, fields: {genre: {names, codes}}});
const median = (f) => {
  const t = [];
  for (let r = 0; r < repeats; r++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
};
const played = ids.slice(0, 50);
map.setPath({played, skipped: [], liked: [], disliked: [], route: [], queue: [], now: played[49]});
const box = map.base.getBoundingClientRect();
const ctx = map.base.getContext('2d');
return {
  floor: median(() => ctx.putImageData(ctx.createImageData(map.base.width, map.base.height), 0, 0)),
  base: median(() => map.drawBase()),
  over: median(() => map.drawOver()),
  nearest: median(() => {
    for (let k = 0; k < 100; k++) {
      map.nearest({clientX: box.left + 9 * k, clientY: box.top + 7 * k});
    }
  }) / 100,
  points: Number(map.base.dataset.points),
};
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1000,800",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver") or "chromedriver")
    )
    driver.set_script_timeout(300)
    rows = []
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            driver.get("about:blank")
            driver.execute_script(PAGE)
            driver.execute_script(MAP_JS.read_text(encoding="utf-8"))
            got = driver.execute_script(MEASURE, n, args.repeats)
            rows.append(
                [
                    n,
                    got["points"],
                    f"{got['base']:.1f}",
                    f"{got['over']:.2f}",
                    f"{got['nearest'] * 1000:.0f}",
                    f"{got['floor']:.2f}",
                ]
            )
    finally:
        driver.quit()
    header = [
        "tracks",
        "points drawn",
        "draw all points (ms)",
        "redraw the path (ms)",
        "point under the mouse (µs)",
        "floor: one blank image (ms)",
    ]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
