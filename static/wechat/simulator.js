// The simulator plays a WeChat customer. Postgres is the source of truth: the websocket only
// nudges, and the page always reads what is new since the last message id it has shown.
(function () {
  "use strict";
  const root = document.querySelector(".phone");
  const api = root.dataset.api;
  const wsBase = root.dataset.ws;
  const $ = (id) => document.getElementById(id);
  const state = { customerId: null, name: null, lastId: 0, shown: new Set(), socket: null, retry: 500 };

  function randomId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function showError(text) {
    const el = $("error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function render(message) {
    if (state.shown.has(message.id)) return;
    state.shown.add(message.id);
    const li = document.createElement("li");
    li.className = message.direction === "in" ? "in" : message.author_kind === "system" ? "out system" : "out";
    li.dataset.id = message.id;
    li.dataset.author = message.author_kind;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = message.body;
    li.appendChild(bubble);
    $("messages").appendChild(li);
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  // A file in its message's bubble: a picture (opens full size), a player, or a download link.
  function attach(item) {
    const li = $("messages").querySelector(`li[data-id="${item.message_id}"]`);
    if (!li || li.querySelector(`[data-attachment-id="${item.id}"]`)) return;
    const box = document.createElement("div");
    box.className = `media media-${item.kind}`;
    box.dataset.attachmentId = item.id;
    if (item.kind === "image") {
      const link = document.createElement("a");
      link.href = item.url;
      link.target = "_blank";
      link.rel = "noopener";
      const img = document.createElement("img");
      img.src = item.thumb_url;
      img.alt = root.dataset.tImage;
      link.appendChild(img);
      box.appendChild(link);
    } else if (item.kind === "voice" || item.kind === "video") {
      const player = document.createElement(item.kind === "voice" ? "audio" : "video");
      player.controls = true;
      player.preload = "none";
      player.src = item.url;
      box.appendChild(player);
    } else {
      const link = document.createElement("a");
      link.href = item.url;
      link.setAttribute("download", "");
      link.textContent = item.filename || root.dataset.tFile;
      box.appendChild(link);
    }
    li.querySelector(".bubble").appendChild(box);
  }

  async function loadMedia(after) {
    const url = `${root.dataset.media}?customer_id=${encodeURIComponent(state.customerId)}&after=${after}`;
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    data.media.forEach(attach);
  }

  async function resync() {
    if (!state.customerId) return;
    const url = `${api}?customer_id=${encodeURIComponent(state.customerId)}&after=${state.lastId}`;
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    const before = state.lastId;
    for (const message of data.messages) {
      render(message);
      state.lastId = Math.max(state.lastId, message.id);
    }
    if (data.messages.length) await loadMedia(before);
  }

  function setOnline(online) {
    const el = $("link-status");
    el.textContent = online ? el.dataset.online : el.dataset.offline;
    el.dataset.state = online ? "online" : "offline";
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${wsBase}${state.customerId}/`);
    state.socket = socket;
    socket.onopen = () => { state.retry = 500; setOnline(true); resync(); };
    socket.onmessage = () => resync();
    socket.onclose = () => {
      setOnline(false);
      if (state.socket !== socket) return;
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 10000);
    };
  }

  function start(name, customerId) {
    state.name = name;
    state.customerId = customerId;
    localStorage.setItem("simulator.customer", JSON.stringify({ name, customerId }));
    $("who").textContent = name;
    $("pick-name").hidden = true;
    $("chat").hidden = false;
    $("text").focus();
    connect();
    resync();
    // A slow poll as a backstop for networks that block websockets.
    setInterval(resync, 5000);
  }

  $("name-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("display-name").value.trim();
    if (name) start(name, randomId());
  });

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value;
    if (!text.trim()) return;
    $("send").disabled = true;
    const body = { customer_id: state.customerId, display_name: state.name, client_message_id: randomId(), text };
    try {
      // The client id makes a retried POST (flaky network) land once.
      for (let attempt = 0; attempt < 3; attempt++) {
        const response = await fetch(api, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
        });
        if (response.ok) { input.value = ""; showError(""); await resync(); return; }
        if (response.status < 500) {
          const data = await response.json().catch(() => ({}));
          showError(data.detail || response.statusText);
          return;
        }
      }
      showError("Server error, please try again.");
    } catch (error) {
      showError(String(error));
    } finally {
      $("send").disabled = false;
      input.focus();
    }
  });

  // An image goes as multipart/form-data; the desk reads its text (OCR) before answering.
  $("image").addEventListener("change", async () => {
    const file = $("image").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("customer_id", state.customerId);
    form.append("display_name", state.name);
    form.append("client_message_id", randomId());
    form.append("image", file);
    try {
      const response = await fetch(`${api}/image`, { method: "POST", headers: { Accept: "application/json" }, body: form });
      if (response.ok) { showError(""); await resync(); }
      else {
        const data = await response.json().catch(() => ({}));
        showError(data.detail || response.statusText);
      }
    } catch (error) {
      showError(String(error));
    } finally {
      $("image").value = "";
    }
  });

  $("switch").addEventListener("click", (event) => {
    event.preventDefault();
    localStorage.removeItem("simulator.customer");
    location.reload();
  });

  const saved = JSON.parse(localStorage.getItem("simulator.customer") || "null");
  if (saved && saved.customerId) start(saved.name, saved.customerId);
})();
