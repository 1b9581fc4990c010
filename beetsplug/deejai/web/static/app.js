// deejai's browser DJ: plain JavaScript, no framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const player = $("player");
let playing = null; // id of the track loaded in the player

function say(text, isError) {
  $("status").textContent = text || "";
  $("status").className = isError ? "error" : "";
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

function render(state) {
  const now = state.now;
  $("now").dataset.id = now ? now.id : "";
  $("title").textContent = now ? now.title : "Nothing playing";
  $("artist").textContent = now ? now.artist : "";
  $("album").textContent = now ? now.album : "";
  if (now && now.art) {
    $("art").src = now.art;
    $("art").hidden = false;
  } else {
    $("art").hidden = true;
    $("art").removeAttribute("src");
  }
  const queue = $("queue");
  queue.replaceChildren(
    ...state.queue.map((track) => {
      const li = document.createElement("li");
      li.dataset.id = track.id;
      li.textContent = line(track);
      return li;
    })
  );
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
  if (now && now.id !== playing) {
    playing = now.id;
    player.src = now.audio;
    player.play().catch((e) => say(`press play: ${e.message}`));
  } else if (!now) {
    playing = null;
  }
}

async function act(method, url, body, message) {
  try {
    if (message) say(message);
    render(await call(method, url, body));
    if (message) say("");
  } catch (e) {
    say(e.message, true);
  }
}

// -- seeds ---------------------------------------------------------------------------------
let suggestTimer = null;
$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(suggestTimer);
  suggestTimer = null;
  $("suggestions").replaceChildren();
  act("POST", "/api/seed", { query: $("q").value });
});

$("q").addEventListener("input", () => {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(async () => {
    const text = $("q").value;
    if (!text.trim()) {
      $("suggestions").replaceChildren();
      return;
    }
    const asked = suggestTimer;
    try {
      const data = await call("GET", `/api/suggest?q=${encodeURIComponent(text)}`);
      if (asked !== suggestTimer || document.activeElement !== $("q")) return; // answered late
      $("suggestions").replaceChildren(
        ...data.items.map((track) => {
          const li = document.createElement("li");
          li.dataset.id = track.id;
          li.textContent = `${line(track)} (${track.album || ""})`;
          li.addEventListener("click", () => {
            $("q").value = `id:${track.id}`;
            $("suggestions").replaceChildren();
            act("POST", "/api/seed", { query: `id:${track.id}` });
          });
          return li;
        })
      );
    } catch (e) {
      $("suggestions").replaceChildren();
    }
  }, 200);
});

$("q").addEventListener("blur", () =>
  setTimeout(() => $("suggestions").replaceChildren(), 200)
);

$("upload").addEventListener("change", () => {
  const file = $("upload").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("audio", file, file.name);
  act("POST", "/api/upload", form, `listening to ${file.name}...`);
  $("upload").value = "";
});

$("mic").addEventListener("click", async () => {
  const seconds = Number($("mic-seconds").textContent);
  let stream;
  try {
    // no voice processing: noise suppression takes steady music for noise and fades it out
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    say(`no microphone: ${e.message}`, true);
    return;
  }
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((track) => track.stop());
    const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
    const form = new FormData();
    form.append("audio", blob);
    act("POST", "/api/mic", form, "matching what was heard...");
  };
  recorder.start();
  say(`listening for ${seconds} s...`);
  setTimeout(() => recorder.stop(), seconds * 1000);
});

$("journey-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const via = $("jvia").value.split("\n").filter((v) => v.trim());
  act("POST", "/api/journey", {
    a: $("ja").value,
    b: $("jb").value,
    via,
    n: Number($("jn").value),
  });
});

// -- playing and steering -----------------------------------------------------------------
player.addEventListener("ended", () => act("POST", "/api/next", { skipped: false }));
player.addEventListener("error", () => {
  if (playing !== null) say(`cannot play track ${playing}; skipping`, true);
  act("POST", "/api/next", { skipped: true });
});
$("skip").addEventListener("click", () => act("POST", "/api/next", { skipped: true }));
for (const verdict of ["more", "less"]) {
  $(verdict).addEventListener("click", () => {
    if (playing === null) return;
    act("POST", "/api/feedback", { id: playing, verdict });
  });
}
for (const name of ["lookback", "noise"]) {
  $(name).addEventListener("input", () => {
    $(`${name}-value`).textContent = $(name).value;
  });
  $(name).addEventListener("change", () =>
    act("POST", "/api/controls", { [name]: Number($(name).value) })
  );
}

call("GET", "/api/state").then(render, (e) => say(e.message, true));
