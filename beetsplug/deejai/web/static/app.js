// deejai's browser DJ: plain JavaScript, no framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const player = $("player");
let playing = null; // id of the track loaded in the player
let state = null;

// a message next to what caused it (``where``: a status element's id; "status" = the header)
function say(text, isError, where = "status") {
  const box = $(where);
  box.textContent = text || "";
  box.classList.toggle("error", Boolean(isError));
  box.classList.remove("ok");
}

async function call(method, url, body) {
  const options = { method };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers = { "Content-Type": "application/json" };
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let data = {};
  try {
    data = await response.json();
  } catch (e) {
    data = { error: response.statusText };
  }
  if (!response.ok) {
    throw new Error(data.error || response.statusText);
  }
  return data;
}

function line(track) {
  return [track.artist, track.title].filter(Boolean).join(" - ");
}

function clock(seconds) {
  if (!isFinite(seconds)) return "0:00";
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function thumb(track) {
  if (track.art) {
    const img = document.createElement("img");
    img.src = track.art;
    img.alt = "";
    img.loading = "lazy";
    return img;
  }
  const none = document.createElement("span");
  none.className = "thumb";
  none.setAttribute("aria-hidden", "true");
  return none;
}

function small(text, className) {
  const div = document.createElement("div");
  div.className = className;
  div.textContent = text;
  return div;
}

function queueButton(label, text, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  button.setAttribute("aria-label", label);
  button.addEventListener("click", onClick);
  return button;
}

function renderQueue(queue) {
  $("queue").replaceChildren(
    ...queue.map((track, position) => {
      const li = document.createElement("li");
      li.dataset.id = track.id;
      const text = document.createElement("div");
      text.className = "text";
      text.append(small(line(track), "line"));
      if (track.why) text.append(small(track.why, "why"));
      const name = line(track);
      li.append(
        thumb(track),
        text,
        queueButton(`Move ${name} up`, "\u2191", () => editQueue(track, "move", position - 1)),
        queueButton(`Move ${name} down`, "\u2193", () => editQueue(track, "move", position + 1)),
        queueButton(`Remove ${name} from the queue`, "\u2715", () => editQueue(track, "remove"))
      );
      return li;
    })
  );
}

function render(next) {
  state = next;
  const now = state.now;
  $("now").dataset.id = now ? now.id : "";
  $("title").textContent = now ? now.title : "Nothing playing";
  $("artist").textContent = now ? now.artist : "";
  $("album").textContent = now ? now.album : "";
  $("why").textContent = now && now.why ? now.why : "";
  if (now && now.art) {
    if ($("art").getAttribute("src") !== now.art) $("art").src = now.art;
    $("art").alt = `Cover of ${now.album || now.title}`;
    $("art").hidden = false;
  } else {
    $("art").hidden = true;
    $("art").removeAttribute("src");
  }
  $("finished").textContent = state.finished || "";
  $("finished").hidden = !state.finished;
  renderQueue(state.queue);
  $("lookback").value = state.controls.lookback;
  $("lookback-value").textContent = state.controls.lookback;
  $("noise").value = state.controls.noise;
  $("noise-value").textContent = state.controls.noise;
  const matches = state.matches || [];
  $("matches-box").hidden = matches.length === 0;
  $("matches").replaceChildren(
    ...matches.map((track) => {
      const li = document.createElement("li");
      li.dataset.id = track.id;
      li.textContent = `${line(track)}  (${track.cosine})`;
      return li;
    })
  );
  map.setPath({
    played: state.played || [],
    skipped: state.skipped || [],
    liked: state.liked || [],
    disliked: state.disliked || [],
    route: state.route || [],
    queue: state.queue.map((t) => t.id),
    now: now ? now.id : null,
  });
  if (now && now.id !== playing) {
    playing = now.id;
    player.src = now.audio;
    player.play().catch((e) => say(`press play: ${e.message}`));
  } else if (!now) {
    playing = null;
  }
}

async function act(method, url, body, { busy, done, where = "status" } = {}) {
  try {
    if (busy) say(busy, false, where);
    render(await call(method, url, body));
    say(done || "", false, where);
    if (done) $(where).classList.add("ok");
    return true;
  } catch (e) {
    say(e.message, true, where);
    return false;
  }
}

function editQueue(track, action, position) {
  if (action === "move" && (position < 0 || position >= state.queue.length)) return;
  act("POST", "/api/queue", { id: track.id, action, position }, {
    where: "queue-status",
    done: action === "remove" ? `Removed ${line(track)}` : "",
  });
}

// -- search as you type, shared by the seed and the journey's points -----------------------
// ``onPick(track)`` runs when a suggestion is chosen; the input keeps the chosen track's id in
// ``dataset.id`` while its text is unchanged (the listener never types ids).
function searchBox(input, list, onPick, where) {
  let timer = null;
  let active = -1;
  const clear = () => {
    list.replaceChildren();
    active = -1;
    input.setAttribute("aria-expanded", "false");
  };
  const choose = (track) => {
    input.value = track.detail ? `${line(track)} (${track.detail})` : line(track);
    input.dataset.id = track.id;
    input.dataset.chosen = input.value;
    clear();
    onPick(track);
  };
  input.addEventListener("input", () => {
    delete input.dataset.id;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = input.value;
      if (!text.trim()) {
        clear();
        return;
      }
      const asked = timer;
      try {
        const data = await call("GET", `/api/suggest?q=${encodeURIComponent(text)}`);
        if (asked !== timer || document.activeElement !== input) return; // answered late
        if (where) say("", false, where);
        list.replaceChildren(
          ...data.items.map((track) => {
            const li = document.createElement("li");
            li.dataset.id = track.id;
            li.setAttribute("role", "option");
            li.append(small(line(track) || track.file, "line"));
            const detail = [track.detail, !track.detail && track.album].filter(Boolean)[0];
            if (detail) li.append(small(detail, "detail"));
            // mousedown: before the input's blur hides the list
            li.addEventListener("mousedown", (event) => {
              event.preventDefault();
              choose(track);
            });
            return li;
          })
        );
        active = -1;
        input.setAttribute("aria-expanded", String(data.items.length > 0));
        if (!data.items.length && where) say(`nothing matches ${text}`, false, where);
      } catch (e) {
        clear();
        if (where) say(e.message, true, where);
      }
    }, 200);
  });
  input.addEventListener("keydown", (event) => {
    const items = [...list.children];
    if (!items.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items.forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      items[active].dispatchEvent(new MouseEvent("mousedown"));
    } else if (event.key === "Escape") {
      clear();
    }
  });
  input.addEventListener("blur", () => setTimeout(clear, 150));
  return { choose, clear, cancel: () => clearTimeout(timer) };
}

// what an input names: the picked track's id, or the typed query
function pointOf(input) {
  if (input.dataset.id && input.value === input.dataset.chosen) return { id: Number(input.dataset.id) };
  return input.value;
}

// -- seeds ---------------------------------------------------------------------------------
const seedBox = searchBox(
  $("q"),
  $("suggestions"),
  (track) => act("POST", "/api/seed", { id: track.id }, { where: "search-status" }),
  "search-status"
);
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  seedBox.cancel();
  seedBox.clear();
  const point = pointOf($("q"));
  const body = typeof point === "string" ? { query: point } : point;
  act("POST", "/api/seed", body, { where: "search-status" });
});

$("upload").addEventListener("change", () => {
  const file = $("upload").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("audio", file, file.name);
  act("POST", "/api/upload", form, { busy: `listening to ${file.name}...`, where: "mic-status" });
  $("upload").value = "";
});

$("mic").addEventListener("click", async () => {
  const seconds = Number($("mic-seconds").textContent);
  let stream;
  try {
    // the browser cancels the page's own music (echo); noise suppression would take steady
    // music for noise and fade it out, so it stays off
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    say(`no microphone: ${e.message}`, true, "mic-status");
    return;
  }
  // the music pauses while the microphone listens, so that it hears the room, not the page
  const wasPlaying = !player.paused;
  player.pause();
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((track) => track.stop());
    const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
    const form = new FormData();
    form.append("audio", blob);
    const before = playing;
    const ok = await act("POST", "/api/mic", form, {
      busy: "matching what was heard...",
      where: "mic-status",
    });
    if ((!ok || playing === before) && wasPlaying) player.play().catch(() => {});
  };
  recorder.start();
  say(`listening for ${seconds} s (the music is paused)...`, false, "mic-status");
  setTimeout(() => recorder.stop(), seconds * 1000);
});

// -- journeys: every point picked by search (or on the map) ---------------------------------
function journeyBox(input) {
  searchBox(input, input.parentElement.querySelector(".suggestions"), () => {}, "journey-status");
}
for (const id of ["ja", "jvia", "jb"]) journeyBox($(id));

function addWaypoint() {
  const wrap = document.createElement("div");
  wrap.className = "suggest";
  const input = document.createElement("input");
  input.type = "search";
  input.className = "via";
  input.placeholder = "through: search";
  input.setAttribute("aria-label", "Journey through");
  const list = document.createElement("ul");
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  wrap.append(input, list);
  $("jvia-list").append(wrap);
  journeyBox(input);
  return input;
}
$("jvia-add").addEventListener("click", () => addWaypoint().focus());

function setPoint(input, id, label) {
  input.value = label;
  input.dataset.id = id;
  input.dataset.chosen = label;
}

function journeyPoint(id, label) {
  $("journey-box").open = true;
  const vias = [...document.querySelectorAll("#jvia-list .via")];
  const empty = [$("ja"), $("jb"), ...vias].find((input) => !input.value.trim());
  const target = empty || addWaypoint();
  setPoint(target, id, label);
  say(`journey point set: ${label}`, false, "journey-status");
}

$("journey-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const via = [...document.querySelectorAll("#jvia-list .via")]
    .filter((input) => input.value.trim())
    .map(pointOf);
  act(
    "POST",
    "/api/journey",
    { a: pointOf($("ja")), b: pointOf($("jb")), via, n: Number($("jn").value) },
    { where: "journey-status", busy: "planning the journey...", done: "the journey plays" }
  );
});

// -- playing and steering -----------------------------------------------------------------
function next(skipped) {
  return act("POST", "/api/next", { skipped });
}
function toggle() {
  if (playing === null) return;
  if (player.paused) player.play().catch((e) => say(`press play: ${e.message}`));
  else player.pause();
}
function feedback(verdict) {
  if (playing === null || !state || !state.now) return;
  const name = line(state.now);
  const button = $(verdict);
  act("POST", "/api/feedback", { id: playing, verdict }, {
    where: "feedback-status",
    done:
      verdict === "more"
        ? `Noted: more like ${name}. The queue leans towards it.`
        : `Noted: less like ${name}. It and its nearest tracks are kept out.`,
  }).then((ok) => {
    if (!ok) return;
    button.classList.add("taken");
    button.setAttribute("aria-pressed", "true");
    setTimeout(() => {
      button.classList.remove("taken");
      button.setAttribute("aria-pressed", "false");
    }, 1500);
  });
}

player.addEventListener("ended", () => next(false));
player.addEventListener("error", () => {
  if (playing !== null) say(`cannot play track ${playing}; skipping`, true);
  next(true);
});
player.addEventListener("play", () => ($("play").textContent = "Pause"));
player.addEventListener("pause", () => ($("play").textContent = "Play"));
player.addEventListener("timeupdate", () => {
  const share = player.duration ? (100 * player.currentTime) / player.duration : 0;
  $("progress-fill").style.width = `${share}%`;
  $("progress").setAttribute("aria-valuenow", String(Math.round(share)));
  $("time-now").textContent = clock(player.currentTime);
  $("time-all").textContent = clock(player.duration);
});
$("progress").addEventListener("click", (event) => {
  if (!player.duration) return;
  const box = $("progress").getBoundingClientRect();
  player.currentTime = ((event.clientX - box.left) / box.width) * player.duration;
});
$("play").addEventListener("click", toggle);
$("skip").addEventListener("click", () => next(true));
$("more").addEventListener("click", () => feedback("more"));
$("less").addEventListener("click", () => feedback("less"));
for (const name of ["lookback", "noise"]) {
  $(name).addEventListener("input", () => {
    $(`${name}-value`).textContent = $(name).value;
  });
  $(name).addEventListener("change", () =>
    act("POST", "/api/controls", { [name]: Number($(name).value) })
  );
}

// keyboard: space play / pause, n next, l less like this (not while typing)
document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing =
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement ||
    target.isContentEditable;
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === " " && !(target instanceof HTMLButtonElement)) {
    event.preventDefault();
    toggle();
  } else if (event.key === "n") {
    next(true);
  } else if (event.key === "l") {
    feedback("less");
  }
});

// -- the map --------------------------------------------------------------------------------
const map = new SoundMap($("map"), $("map-over"), $("map-tip"));
window.deejaiMap = map;
map.onPick = (id, label) => {
  if ($("map-click").value === "journey") journeyPoint(id, label);
  else act("POST", "/api/seed", { id }, { where: "map-status" });
};
$("colour-by").addEventListener("change", () => map.setField($("colour-by").value));
say("drawing the map of the library...", false, "map-status");
call("GET", "/api/map").then(
  (data) => {
    const choices = [...$("colour-by").options].map((option) => option.value);
    map.field = $("colour-by").value = map.usefulField.call({ data }, choices);
    map.setData(data);
    say(`${data.n} tracks; near each other = sound alike`, false, "map-status");
    if (state) render(state);
  },
  (e) => say(`no map: ${e.message}`, true, "map-status")
);

call("GET", "/api/state").then(render, (e) => say(e.message, true));
