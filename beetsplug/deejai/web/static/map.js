// deejai's map of the library's sound, drawn on two canvases (no DOM node per point):
// the points (redrawn when the data, the colours or the size change) and, above them,
// the session's path, the planned journey and the hovered point.
"use strict";

// h in degrees, s and l in 0..1 -> [r, g, b] in 0..255
function hslToRgb(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (k) => {
    const t = (k + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(t - 3, 9 - t, 1))));
  };
  return [f(0), f(8), f(4)];
}

class SoundMap {
  constructor(base, over, tip) {
    this.base = base;
    this.over = over;
    this.tip = tip;
    this.data = null;
    this.field = "genre";
    this.index = new Map(); // item id -> row
    this.grid = null; // spatial hash of screen positions, for hover and click
    this.path = { played: [], skipped: [], disliked: [], liked: [], route: [], queue: [], now: null };
    this.hovered = -1;
    this.onPick = () => {};
    new ResizeObserver(() => this.resize()).observe(base.parentElement);
    base.addEventListener("mousemove", (e) => this.hover(e));
    base.addEventListener("mouseleave", () => this.hover(null));
    base.addEventListener("click", (e) => {
      const row = this.nearest(e);
      if (row >= 0) this.onPick(this.data.ids[row], this.data.labels[row]);
    });
  }

  setData(data) {
    this.data = data;
    this.index = new Map(data.ids.map((id, row) => [id, row]));
    this.resize();
  }

  // the first field that tells tracks apart (a library without genres is coloured by artist)
  usefulField(fields) {
    for (const field of fields) {
      const names = this.data.fields[field].names.filter((name) => name !== "");
      if (names.length > 1) return field;
    }
    return fields[0];
  }

  setField(field) {
    this.field = field;
    this.drawBase();
  }

  setPath(path) {
    this.path = path;
    this.drawOver();
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const box = this.base.parentElement.getBoundingClientRect();
    for (const canvas of [this.base, this.over]) {
      canvas.width = Math.max(1, Math.round(box.width * ratio));
      canvas.height = Math.max(1, Math.round(box.height * ratio));
    }
    this.ratio = ratio;
    this.drawBase();
  }

  // screen position (CSS pixels, relative to the canvas) of a row
  position(row) {
    const w = this.base.width / this.ratio;
    const h = this.base.height / this.ratio;
    const pad = 12;
    const side = Math.min(w, h) - 2 * pad;
    const left = (w - side) / 2;
    const top = (h - side) / 2;
    return [left + this.data.x[row] * side, top + (1 - this.data.y[row]) * side];
  }

  // where track ``id`` is drawn, for tests and for the keyboard-less: {x, y} or null
  screenPosition(id) {
    const row = this.index.get(id);
    if (row === undefined) return null;
    const [x, y] = this.position(row);
    return { x, y };
  }

  // one [r, g, b] per name of the colouring field (grey: no value)
  colours() {
    const field = this.data.fields[this.field];
    const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    const light = dark ? 0.62 : 0.46;
    const n = field.names.length;
    return field.names.map((name, code) => {
      if (name === "") return dark ? [102, 102, 102] : [170, 170, 170];
      if (this.field === "year") {
        const t = n > 1 ? code / (n - 1) : 0.5;
        return hslToRgb(220 - 190 * t, 0.7, light);
      }
      return hslToRgb((code * 137.508) % 360, 0.62, light);
    });
  }

  // every point, written straight into the canvas's pixels (one putImageData, no paths):
  // 50k points cost what one image does
  drawBase() {
    const ctx = this.base.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.base.width, this.base.height);
    if (!this.data) return;
    const n = this.data.ids.length;
    const field = this.data.fields[this.field];
    const palette = this.colours();
    const r = this.ratio;
    const [width, height] = [this.base.width, this.base.height];
    const size = Math.max(1, Math.round((n > 20000 ? 2 : n > 3000 ? 3 : n > 300 ? 4 : 8) * r));
    const [w, h] = [width / r, height / r];
    const side = Math.min(w, h) - 24;
    const [left, top] = [(w - side) / 2, (h - side) / 2];
    const xs = this.data.x;
    const ys = this.data.y;
    const codes = field.codes;
    const image = ctx.createImageData(width, height);
    const pixels = new Uint32Array(image.data.buffer);
    const little = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
    const packed = palette.map(([red, green, blue]) =>
      little
        ? ((255 << 24) | (blue << 16) | (green << 8) | red) >>> 0
        : ((red << 24) | (green << 16) | (blue << 8) | 255) >>> 0
    );
    this.grid = new Map(); // cell (8 CSS px) -> rows, keyed by one number
    this.positions = new Float32Array(2 * n);
    for (let row = 0; row < n; row++) {
      const x = left + xs[row] * side;
      const y = top + (1 - ys[row]) * side;
      this.positions[2 * row] = x;
      this.positions[2 * row + 1] = y;
      const colour = packed[codes[row]];
      const x0 = Math.max(0, Math.round(x * r - size / 2));
      const y0 = Math.max(0, Math.round(y * r - size / 2));
      const x1 = Math.min(width, x0 + size);
      const y1 = Math.min(height, y0 + size);
      for (let py = y0; py < y1; py++) pixels.fill(colour, py * width + x0, py * width + x1);
      const key = Math.floor(x / 8) * 65536 + Math.floor(y / 8);
      const rows = this.grid.get(key);
      if (rows) rows.push(row);
      else this.grid.set(key, [row]);
    }
    ctx.putImageData(image, 0, 0);
    this.base.dataset.points = String(n);
    this.legend(field, palette);
    this.drawOver();
  }

  legend(field, palette) {
    const counts = new Map();
    for (const code of field.codes) counts.set(code, (counts.get(code) || 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
    const list = document.getElementById("legend");
    list.replaceChildren(
      ...top.map(([code, count]) => {
        const li = document.createElement("li");
        const dot = document.createElement("span");
        dot.style.background = `rgb(${palette[code].join(",")})`;
        li.append(dot, `${field.names[code] || "(none)"} (${count})`);
        return li;
      })
    );
  }

  nearest(event) {
    if (!this.grid) return -1;
    const box = this.base.getBoundingClientRect();
    const x = event.clientX - box.left;
    const y = event.clientY - box.top;
    let best = -1;
    let bestD = 10 * 10;
    const cx = Math.floor(x / 8);
    const cy = Math.floor(y / 8);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (const row of this.grid.get((cx + dx) * 65536 + cy + dy) || []) {
          const d = (this.positions[2 * row] - x) ** 2 + (this.positions[2 * row + 1] - y) ** 2;
          if (d < bestD) {
            bestD = d;
            best = row;
          }
        }
      }
    }
    return best;
  }

  hover(event) {
    const row = event ? this.nearest(event) : -1;
    if (row === this.hovered) return;
    this.hovered = row;
    if (row < 0) {
      this.tip.hidden = true;
    } else {
      const [x, y] = this.position(row);
      this.tip.textContent = this.data.labels[row];
      this.tip.style.left = `${Math.min(x + 10, this.base.clientWidth - 150)}px`;
      this.tip.style.top = `${y + 10}px`;
      this.tip.hidden = false;
    }
    this.drawOver();
  }

  line(ctx, ids) {
    let started = false;
    for (const id of ids) {
      const row = this.index.get(id);
      if (row === undefined) continue;
      const [x, y] = this.position(row);
      if (started) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      started = true;
    }
  }

  ring(ctx, id, radius, colour, width) {
    const row = this.index.get(id);
    if (row === undefined) return;
    const [x, y] = this.position(row);
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.stroke();
  }

  drawOver() {
    const ctx = this.over.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.over.width, this.over.height);
    if (!this.data) return;
    ctx.scale(this.ratio, this.ratio);
    const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    const ink = dark ? "#f2f2f7" : "#111";
    const p = this.path;
    // the planned journey: dashed, under the played path
    ctx.setLineDash([6, 5]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = dark ? "#8da2ff" : "#3b5bdb";
    ctx.beginPath();
    this.line(ctx, p.route);
    ctx.stroke();
    // what comes next: dotted, from the track playing
    ctx.setLineDash([2, 4]);
    ctx.strokeStyle = ink;
    ctx.beginPath();
    this.line(ctx, p.now !== null ? [p.now, ...p.queue] : []);
    ctx.stroke();
    ctx.setLineDash([]);
    // what played: solid
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    this.line(ctx, p.played);
    ctx.stroke();
    const drawn = p.played.filter((id) => this.index.has(id));
    this.base.dataset.path = String(drawn.length);
    if (p.played.length) this.ring(ctx, p.played[0], 7, ink, 2); // the seed
    for (const id of p.liked) this.ring(ctx, id, 6, "#1b9e4b", 2.5);
    for (const id of p.disliked) this.ring(ctx, id, 6, "#e03131", 2.5);
    for (const id of p.skipped) this.ring(ctx, id, 4, "#e8590c", 2);
    if (p.now !== null) this.ring(ctx, p.now, 9, ink, 3);
    if (this.hovered >= 0) this.ring(ctx, this.data.ids[this.hovered], 6, ink, 1.5);
  }
}

window.SoundMap = SoundMap;
