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

  function live(path, resync) {
    let retry = 500;
    let socket = null;
    let timer = null;
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
      socket.onmessage = nudge;
      socket.onclose = () => {
        setOnline(false);
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 10000);
      };
    }
    connect();
    setInterval(changed, 15000); // backstop where websockets are blocked
  }

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

  // ---- one conversation ---------------------------------------------------------------------
  function conversationPage() {
    const seen = { message: 0, event: 0, note: 0 };
    const t = root.dataset;
    const actionUrl = (action) => t.action.replace("ACTION", action);
    const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

    function item(className, who, body, at, id) {
      const li = document.createElement("li");
      li.className = className;
      if (id) li.dataset.id = id;
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = `${who} · ${time(at)}`;
      const text = document.createElement("div");
      text.className = "body";
      text.textContent = body;
      li.append(meta, text);
      return li;
    }

    function renderMessage(m) {
      const shown = $("timeline").querySelector(`li.msg[data-id="${m.id}"]`);
      if (shown) { window.deskMedia.fill(shown, m); return; }  // its media arrived meanwhile
      const who = m.author_kind === "customer" ? t.customer
        : m.author_kind === "bot" ? t.tBot
        : m.author_kind === "agent" ? m.author : t.tSystem;
      const li = item(`msg ${m.direction} ${m.author_kind}`, who, m.body, m.at, m.id);
      li.dataset.author = m.author_kind;
      window.deskMedia.fill(li, m);
      if (m.status === "failed") {
        li.classList.add("failed");
        const why = document.createElement("div");
        why.className = "delivery-error";
        why.textContent = `${t.tNotDelivered}${m.error ? `: ${m.error}` : ""}`;
        li.appendChild(why);
      }
      $("timeline").appendChild(li);
    }

    function renderEvent(e) {
      let text = e.label;
      if (e.actor) text += ` ${t.tBy} ${e.actor}`;
      if (e.kind === "assigned" && e.assignee) text += ` ${t.tTo} ${e.assignee}`;
      const li = document.createElement("li");
      li.className = `event ${e.kind}`;
      li.dataset.eventId = e.id;
      li.textContent = `${text} · ${time(e.at)}`;
      $("timeline").appendChild(li);
    }

    function renderState(state) {
      const mode = $("conv-mode");
      mode.textContent = state.mode_label;
      mode.dataset.mode = state.mode;
      mode.className = `mode-badge mode-${state.mode}`;
      $("conv-assignee").textContent = state.assignee || "—";
      const holder = $("conv-holder");
      const other = state.mode === "human" && state.assignee && !state.mine;
      holder.hidden = !(other || state.mine);
      holder.textContent = state.mine ? t.tYours : `${state.assignee} ${t.tHandledBy}`;
      holder.dataset.holder = state.assignee || "";
      holder.classList.toggle("other", Boolean(other));
      const closed = state.mode === "closed";
      const channel = state.channel || { label: "", can_send: true, actions: [] };
      // While the channel's own staff serve it (WeCom), the desk can neither take it nor give it to the bot.
      $("take-over").disabled = closed || state.mine || other || !channel.can_send;
      $("hand-back").disabled = !(state.mode === "human" || state.mode === "queued") || !channel.can_send;
      $("close-conversation").disabled = closed;
      $("assign").disabled = closed;
      $("conv-channel").hidden = !channel.label;
      $("conv-channel").textContent = channel.label;
      $("reply-body").disabled = !state.mine || !channel.can_send;
      $("send-reply").disabled = !state.mine || !channel.can_send;
      $("attach-file").disabled = !state.mine || !channel.can_send;
      $("attach").classList.toggle("disabled", $("attach-file").disabled);
      renderChannelActions(channel.actions);
      if (window.deskSla) window.deskSla.show($("conv-sla"), state.sla);
    }

    // Actions the conversation's channel offers (e.g. hand a WeCom session to WeCom's servicers).
    function renderChannelActions(actions) {
      const box = $("channel-actions");
      const key = JSON.stringify(actions);
      if (box.dataset.key === key) return;  // keep the agent's pick across resyncs
      box.dataset.key = key;
      box.replaceChildren();
      actions.forEach((action) => {
        let select = null;
        if (action.choices.length) {
          select = document.createElement("select");
          select.id = `channel-${action.slug}-value`;
          select.setAttribute("aria-label", action.label);
          action.choices.forEach(([value, label]) => select.add(new Option(label, value)));
          box.appendChild(select);
        }
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button";
        button.id = `channel-${action.slug}`;
        button.textContent = action.label;
        button.addEventListener("click", () =>
          act("channel", { action: action.slug, value: select ? select.value : "" }));
        box.appendChild(button);
      });
    }

    const resync = serial(async () => {
        const refresh = [...window.deskMedia.pending].join(",");
        const url = `${t.timeline}?after=${seen.message}&after_event=${seen.event}&after_note=${seen.note}&refresh=${refresh}`;
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) return;
        const data = await response.json();
        // Merge messages and events by time so system events sit where they happened.
        const items = [
          ...data.messages.map((m) => ({ at: m.at, render: () => renderMessage(m) })),
          ...data.events.map((e) => ({ at: e.at, render: () => renderEvent(e) })),
        ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
        items.forEach((entry) => entry.render());
        data.messages.forEach((m) => { seen.message = Math.max(seen.message, m.id); });
        data.events.forEach((e) => { seen.event = Math.max(seen.event, e.id); });
        data.notes.forEach((n) => {
          $("notes").appendChild(item("note", n.author, n.body, n.at, n.id));
          seen.note = Math.max(seen.note, n.id);
        });
        if (items.length) $("timeline").scrollTop = $("timeline").scrollHeight;
        renderState(data.state);
    });

    async function act(action, data) {
      const result = await post(actionUrl(action), data);
      if (!result.ok) {
        showError(result.data.error || String(result.status));
        await resync();
        return false;
      }
      showError("");
      await resync();
      return true;
    }

    $("take-over").addEventListener("click", () => act("take-over"));
    $("hand-back").addEventListener("click", () => act("hand-back"));
    $("close-conversation").addEventListener("click", () => act("close"));
    $("assign").addEventListener("click", () => act("assign", { assignee: $("assignee").value }));

    const reply = $("reply-body");
    $("canned").addEventListener("change", (event) => {
      if (!event.target.value) return;
      reply.value = reply.value ? `${reply.value} ${event.target.value}` : event.target.value;
      event.target.value = "";
      reply.focus();
    });
    reply.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $("composer").requestSubmit();
      } else if (event.key === "Tab") {
        const match = reply.value.match(/\/([\w-]+)$/);
        const option = match && document.querySelector(`#canned option[data-shortcut="${match[1]}"]`);
        if (option) {
          event.preventDefault();
          reply.value = reply.value.slice(0, -match[0].length) + option.value;
        }
      }
    });
    $("composer").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!reply.value.trim()) return;
      if (await act("reply", { body: reply.value })) reply.value = "";
    });
    window.deskMedia.uploader({
      input: $("attach-file"),
      url: t.media,
      csrf,
      done: async () => { showError(""); await resync(); },
      fail: (text) => showError(text),
    });
    $("note-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const note = $("note-body");
      if (!note.value.trim()) return;
      if (await act("note", { body: note.value })) note.value = "";
    });
    document.addEventListener("keydown", (event) => {
      if (event.altKey && event.key.toLowerCase() === "t") { event.preventDefault(); $("take-over").click(); }
    });

    live(root.dataset.ws, resync);
  }

  const pages = { queue: queuePage, conversations: conversationsPage, conversation: conversationPage };
  pages[root.dataset.page]();
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
