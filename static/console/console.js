// Agent console. Postgres is the source of truth: websocket events only nudge, and every page
// rereads what changed (lists: the whole fragment; a conversation: what is newer than the ids
// it has shown). A (re)connect always resyncs, since the channel layer may drop events.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const csrf = () => document.querySelector("[name=csrfmiddlewaretoken]").value;

  function showError(text) {
    const el = $("console-error");
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  async function post(url, data) {
    const body = new URLSearchParams(data || {});
    const response = await fetch(url, {
      method: "POST",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
      body,
      credentials: "same-origin",
    });
    const json = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data: json };
  }

  // One reread at a time; a nudge during a reread schedules exactly one more.
  function serial(fn) {
    let running = null;
    let again = false;
    return function run() {
      if (running) { again = true; return running; }
      running = fn().finally(() => {
        running = null;
        if (again) { again = false; run(); }
      });
      return running;
    };
  }

  // Returns { close }: the inbox closes a conversation's socket when it shows another one.
  function live(path, resync, onEvent) {
    let retry = 500;
    let socket = null;
    let timer = null;
    let closed = false;
    const status = $("link-status");
    const setOnline = (online) => {
      if (!status) return;
      status.textContent = online ? status.dataset.online : status.dataset.offline;
      status.dataset.state = online ? "online" : "offline";
    };
    // Whatever else shows the agent's state (the availability control) rereads it too.
    const changed = () => { resync(); document.dispatchEvent(new Event("console:changed")); };
    // Many events in a burst cost one reread.
    const nudge = () => {
      if (timer) return;
      timer = setTimeout(() => { timer = null; changed(); }, 80);
    };
    function connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      socket = new WebSocket(`${scheme}://${location.host}${path}`);
      socket.onopen = () => { retry = 500; setOnline(true); changed(); };
      socket.onmessage = (message) => {
        if (onEvent) {
          try { onEvent(JSON.parse(message.data)); } catch (error) { /* a nudge all the same */ }
        }
        nudge();
      };
      socket.onclose = () => {
        if (closed) return;
        setOnline(false);
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 10000);
      };
    }
    connect();
    const backstop = setInterval(changed, 15000); // backstop where websockets are blocked
    return {
      close() {
        closed = true;
        clearInterval(backstop);
        if (timer) clearTimeout(timer);
        if (socket) socket.close();
      },
    };
  }

  // An element with a class and text (never HTML): what the inbox's scripts build their rows from.
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  window.deskConsole = { $, csrf, showError, post, serial, live, el };

  // ---- review queue -------------------------------------------------------------------------
  function queuePage() {
    const box = $("queue");
    let selected = null;

    const rows = () => Array.from(box.querySelectorAll("tr.flag-row"));
    function select(row) {
      rows().forEach((r) => r.classList.toggle("selected", r === row));
      selected = row ? row.dataset.flagId : null;
      if (row) row.focus({ preventScroll: false });
    }
    const current = () => rows().find((r) => r.dataset.flagId === selected) || null;

    const resync = serial(async () => {
      const response = await fetch(root.dataset.fragment, { credentials: "same-origin" });
      if (!response.ok) return;
      box.innerHTML = await response.text();
      const row = current();
      rows().forEach((r) => r.classList.toggle("selected", r === row));
    });

    const flagUrl = (id, action) => root.dataset.flagAction.replace("/0/", `/${id}/`).replace("ACTION", action);

    async function act(row, action) {
      if (!row) return;
      const id = row.dataset.flagId;
      if (action === "term") { openTermDialog(row); return; }
      const result = await post(flagUrl(id, action));
      if (!result.ok) { showError(result.data.holder ? `${result.data.holder}: ${result.data.error}` : result.data.error); return; }
      showError("");
      if (action === "take-over") {
        location.href = root.dataset.conversationUrl.replace("/0/", `/${result.data.conversation_id}/`);
        return;
      }
      const next = row.nextElementSibling || row.previousElementSibling;
      selected = next ? next.dataset.flagId : null;
      await resync();
    }

    const dialog = $("term-dialog");
    let termRow = null;
    function openTermDialog(row) {
      termRow = row;
      const picked = String(window.getSelection() || "").trim();
      $("term-text").value = picked || row.dataset.term || "";
      $("term-category").value = row.dataset.category || "other";
      $("term-error").hidden = true;
      dialog.showModal();
      $("term-text").select();
    }
    $("term-cancel").addEventListener("click", () => dialog.close());
    $("term-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await post(flagUrl(termRow.dataset.flagId, "term"), {
        text: $("term-text").value, category: $("term-category").value, action: $("term-action").value,
      });
      if (!result.ok) { $("term-error").textContent = result.data.error; $("term-error").hidden = false; return; }
      dialog.close();
      await resync();
    });

    box.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-act]");
      const row = event.target.closest("tr.flag-row");
      if (row) select(row);
      if (button) act(row, button.dataset.act);
    });

    document.addEventListener("keydown", (event) => {
      if (document.querySelector("dialog[open]") || event.ctrlKey || event.metaKey || event.altKey) return;
      if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
      const all = rows();
      const index = all.indexOf(current());
      const keys = { c: "confirm", d: "dismiss", a: "term", t: "take-over" };
      if (event.key === "j" || event.key === "ArrowDown") select(all[Math.min(index + 1, all.length - 1)] || null);
      else if (event.key === "k" || event.key === "ArrowUp") select(all[Math.max(index - 1, 0)] || null);
      else if (event.key === "o" && current()) current().querySelector("a")?.click();
      else if (keys[event.key]) act(current(), keys[event.key]);
      else return;
      event.preventDefault();
    });

    live(root.dataset.ws, resync);
  }

  // ---- conversation list --------------------------------------------------------------------
  function conversationsPage() {
    const box = $("conversations");
    live(root.dataset.ws, serial(async () => {
      const response = await fetch(root.dataset.fragment, { credentials: "same-origin" });
      if (response.ok) box.innerHTML = await response.text();
    }));
  }

  // One conversation (its page; the inbox mounts the same pane): static/console/conversation.js.
  function conversationPage() {
    window.deskConversation.mount(document.getElementById("conversation-pane"), { socket: true });
  }

  // The inbox runs static/console/inbox.js. Pages start once every deferred script has run.
  const pages = { queue: queuePage, conversations: conversationsPage, conversation: conversationPage, inbox: () => {} };
  document.addEventListener("DOMContentLoaded", () => pages[root.dataset.page]());
})();

// Availability (routing): online / away / offline, with the agent's load against their capacity.
// Set here; reread whenever the page rereads (chats assigned or taken away, presence put back online).
(function () {
  "use strict";
  const form = document.getElementById("availability");
  if (!form) return;
  const select = form.querySelector("select[name=status]");
  let latest = 0; // only the newest answer is shown
  let saving = null; // a pick on its way: rereads wait for it, or they could show the state before it

  function show(data) {
    select.value = data.status;
    document.getElementById("availability-load").textContent = data.load;
    document.getElementById("availability-capacity").textContent = data.capacity;
  }

  async function refresh() {
    if (saving) await saving.catch(() => {});
    const mine = ++latest;
    const response = await fetch(form.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (mine === latest && response.ok) show(await response.json());
  }

  select.addEventListener("change", async () => {
    const mine = ++latest;
    saving = fetch(form.dataset.url, {
      method: "POST",
      headers: { "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value, Accept: "application/json" },
      body: new URLSearchParams({ status: select.value }),
      credentials: "same-origin",
    });
    try {
      const response = await saving;
      const data = await response.json().catch(() => ({}));
      if (mine !== latest) return;
      if (response.ok) show(data);
      else refresh(); // refused: show what holds
    } finally {
      saving = null;
    }
  });
  document.addEventListener("console:changed", refresh);
})();

// SLA clocks (routing): each .sla[data-left] counts down from the seconds left when the server read
// it, so the clock ticks between rereads and no browser clock skew matters.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root) return;
  const t = root.dataset;
  const read = new WeakMap(); // element -> performance.now() when its data-left was current

  function tick() {
    document.querySelectorAll(".sla[data-left]").forEach((el) => {
      if (!read.has(el)) read.set(el, performance.now());
      const left = Number(el.dataset.left) - (performance.now() - read.get(el)) / 1000;
      const status = left < 0 ? "breached" : left <= Number(el.dataset.warn) ? "warning" : "ok";
      const template = left < 0 ? t.tSlaOverdue : el.dataset.kind === "first" ? t.tSlaFirst : t.tSlaNext;
      el.textContent = template.replace("{n}", Math.max(1, Math.ceil(Math.abs(left) / 60)));
      el.className = `sla sla-${status}`;
    });
  }

  // The conversation page's clock, from the timeline's state (null: no clock runs).
  function show(box, sla) {
    if (!box) return;
    const el = document.createElement("span");
    el.className = "sla";
    el.textContent = "—";
    if (sla) Object.assign(el.dataset, { kind: sla.kind, left: sla.left, warn: sla.warn });
    box.replaceChildren(el);
    tick();
  }

  window.deskSla = { show };
  setInterval(tick, 1000);
  tick();
})();
