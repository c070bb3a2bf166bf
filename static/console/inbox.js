// The agent inbox: list (tabs, filters, search, unread, bulk actions) | conversation | customer.
// One websocket on the lists group nudges both the list and the open conversation; each rereads
// Postgres. Between rereads the script compares what it watches (my conversations and their
// unread, my team's queue) to notify the agent. Keys: j/k move, x select, / search, r reply,
// e close, a assign. Below 800 px the list and the conversation are two views.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root || root.dataset.page !== "inbox") return;
  const t = root.dataset;
  const $ = (id) => document.getElementById(id);
  const state = { tab: "mine", rows: [], cursor: null, open: null, checked: new Set(), watch: null };
  let current = null; // the mounted conversation pane
  let prefs = {};

  // ---- list -----------------------------------------------------------------------------------
  function listUrl() {
    const params = new URLSearchParams({ tab: state.tab });
    [["channel", "filter-channel"], ["account", "filter-account"], ["team", "filter-team"], ["sla", "filter-sla"],
      ["label", "filter-label"]].forEach(([name, id]) => { if ($(id) && $(id).value) params.set(name, $(id).value); });
    // A query too short for the search (inbox_search.js: "hint") filters the list by customer name.
    const q = $("inbox-search").value.trim();
    if (q && root.dataset.results === "hint") params.set("q", q);
    return `${t.list}?${params}`;
  }

  const { el } = window.deskConsole; // console.js, loaded first

  function ago(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    const today = new Date().toDateString() === date.toDateString();
    return today ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleDateString([], { month: "2-digit", day: "2-digit" });
  }

  function renderRow(row) {
    const li = el("li", `inbox-row mode-${row.mode}`);
    li.dataset.conversationId = row.id;
    li.setAttribute("aria-selected", String(row.id === state.cursor));
    li.classList.toggle("open", row.id === state.open);
    li.classList.toggle("has-unread", row.unread > 0);
    const check = el("input", "row-check");
    check.type = "checkbox";
    check.checked = state.checked.has(row.id);
    check.setAttribute("aria-label", row.customer);
    const main = el("div", "row-main");
    const top = el("div", "row-top");
    top.append(el("b", "row-name", row.customer), el("span", "row-time muted", ago(row.at)));
    const preview = el("div", `row-preview ${row.preview_direction}`, row.preview || "—");
    const meta = el("div", "row-meta");
    meta.append(el("span", "muted", row.channel_label), el("span", `mode-badge mode-${row.mode}`, row.mode_label));
    if (row.assignee) meta.append(el("span", "row-assignee muted", `@${row.assignee}`));
    if (row.team) meta.append(el("span", "chip", row.team));
    (row.labels || []).forEach((label) => meta.append(labelChip(label, "")));
    (row.customer_labels || []).forEach((label) => meta.append(labelChip(label, t.tCustomerLabel)));
    if (row.sla) {
      const clock = el("span", "row-sla");
      meta.append(clock);
      window.deskSla.show(clock, row.sla);
    }
    main.append(top, preview, meta);
    li.append(check, main);
    if (row.unread) li.append(el("span", "unread", String(row.unread)));
    return li;
  }

  // A label's colour is an admin-checked #rrggbb; the text takes black or white, whichever reads.
  function labelChip(label, title) {
    const chip = el("span", `label-chip${title ? " customer" : ""}`, label.name);
    chip.dataset.labelId = label.id;
    if (title) chip.title = title;
    if (/^#[0-9a-f]{6}$/i.test(label.colour)) {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(label.colour.slice(i, i + 2), 16));
      chip.style.setProperty("--label", label.colour);
      chip.style.color = r * 0.299 + g * 0.587 + b * 0.114 > 150 ? "#000" : "#fff";
    }
    return chip;
  }

  function renderList(data) {
    state.rows = data.rows;
    const ids = new Set(data.rows.map((r) => r.id));
    state.checked.forEach((id) => { if (!ids.has(id)) state.checked.delete(id); });
    $("inbox-rows").replaceChildren(...data.rows.map(renderRow));
    $("inbox-empty").hidden = data.rows.length > 0;
    Object.entries(data.counts).forEach(([tab, n]) => {
      const badge = root.querySelector(`.count[data-count="${tab}"]`);
      if (badge) badge.textContent = n;
    });
    renderBulk();
  }

  const refresh = window.deskConsole.serial(async () => {
    const response = await fetch(listUrl(), { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    if (data.tab !== state.tab) return; // a tab switch raced this answer: the next reread counts
    renderList(data);
    notifyChanges(data.watch);
  });

  function setCursor(id, open) {
    state.cursor = id;
    root.querySelectorAll(".inbox-row").forEach((li) => {
      const on = Number(li.dataset.conversationId) === id;
      li.setAttribute("aria-selected", String(on));
      if (on) li.scrollIntoView({ block: "nearest" });
    });
    if (open && id) openConversation(id);
  }

  // ---- the conversation and its customer ----------------------------------------------------------
  let opening = 0;
  // at: {message: id} or {note: id}, what a search hit opens the conversation at.
  async function openConversation(id, { view = true, at = null } = {}) {
    const mine = ++opening;
    const response = await fetch(t.pane.replace("/0/", `/${id}/`), { credentials: "same-origin" });
    if (mine !== opening) return; // the agent moved on meanwhile
    if (!response.ok) { window.deskConsole.showError(`${response.status} ${response.statusText}`); return; }
    const data = await response.json();
    if (current) current.destroy();
    $("inbox-main").innerHTML = data.conversation;
    $("inbox-customer").innerHTML = data.customer;
    state.open = data.id;
    state.cursor = data.id;
    current = window.deskConversation.mount($("conversation-pane"), { socket: false, reveal: at });
    root.querySelectorAll(".inbox-row").forEach((li) => {
      const on = Number(li.dataset.conversationId) === data.id;
      li.classList.toggle("open", on);
      li.setAttribute("aria-selected", String(on));
    });
    if (view) root.dataset.view = "conversation";
    history.replaceState(null, "", `?c=${data.id}`);
    root.dispatchEvent(new CustomEvent("inbox:opened", { detail: { id: data.id } }));
  }

  function showList() {
    root.dataset.view = "list";
    history.replaceState(null, "", location.pathname);
    const row = root.querySelector(".inbox-row[aria-selected=true]");
    if (row) row.focus();
  }

  root.addEventListener("click", (event) => {
    if (event.target.closest("#inbox-back")) { showList(); return; }
    const past = event.target.closest("[data-open-conversation]");
    if (past) { event.preventDefault(); openConversation(Number(past.dataset.openConversation)); return; }
    const row = event.target.closest(".inbox-row");
    if (!row) return;
    const id = Number(row.dataset.conversationId);
    if (event.target.closest(".row-check")) {
      if (event.target.checked) state.checked.add(id); else state.checked.delete(id);
      renderBulk();
      return;
    }
    setCursor(id, true);
  });
  // The pane tells the list when the agent acted or read: counts and badges follow.
  root.addEventListener("conversation:acted", () => refresh());
  root.addEventListener("conversation:read", () => refresh());

  // ---- tabs, filters, search --------------------------------------------------------------------
  root.querySelectorAll(".inbox-tab").forEach((button) => {
    button.addEventListener("click", () => {
      state.tab = button.dataset.tab;
      root.querySelectorAll(".inbox-tab").forEach((b) => b.setAttribute("aria-selected", String(b === button)));
      state.checked.clear();
      refresh();
    });
  });
  // A chosen channel narrows the account filter to its own accounts (values are "<channel>:<key>").
  function narrowAccounts() {
    const accounts = $("filter-account");
    const channel = $("filter-channel").value;
    if (!accounts) return;
    accounts.querySelectorAll("optgroup").forEach((group) => {
      const off = Boolean(channel) && group.dataset.channel !== channel;
      group.hidden = off;
      group.disabled = off;
    });
    if (channel && accounts.value && !accounts.value.startsWith(`${channel}:`)) accounts.value = "";
  }
  $("filter-channel").addEventListener("change", narrowAccounts);
  root.querySelectorAll(".inbox-filters select").forEach((select) => select.addEventListener("change", () => refresh()));
  // The search box is inbox_search.js's: it calls refresh() when the list should follow it.

  // ---- bulk actions ---------------------------------------------------------------------------------
  function renderBulk() {
    $("bulk-actions").hidden = state.checked.size === 0;
    $("bulk-count").textContent = state.checked.size;
    $("bulk-all").checked = state.rows.length > 0 && state.checked.size === state.rows.length;
  }
  $("bulk-all").addEventListener("change", (event) => {
    state.checked = event.target.checked ? new Set(state.rows.map((r) => r.id)) : new Set();
    root.querySelectorAll(".row-check").forEach((box) => { box.checked = event.target.checked; });
    renderBulk();
  });
  root.querySelectorAll("[data-bulk]").forEach((button) => {
    button.addEventListener("click", () => bulk(button.dataset.bulk));
  });
  async function bulk(action) {
    const body = new URLSearchParams({ action });
    state.checked.forEach((id) => body.append("ids", id));
    if (action === "assign") body.set("assignee", $("bulk-assignee").value);
    // Inputs of an action (the label and add/remove) carry data-bulk-field: their name is posted.
    root.querySelectorAll(`[data-bulk-field][data-bulk-for="${action}"]`).forEach((input) => body.set(input.name, input.value));
    const result = await window.deskConsole.post(t.bulk, body);
    const errors = Object.entries((result.data && result.data.errors) || {});
    window.deskConsole.showError(errors.length
      ? t.tBulkFailed.replace("{n}", errors.length).replace("{why}", [...new Set(errors.map(([, why]) => why))].join("; "))
      : result.ok ? "" : result.data.error || String(result.status));
    state.checked.clear();
    await refresh();
    if (current) current.resync();
  }
  window.deskInbox = { bulk, refresh, open: openConversation, labelChip }; // inbox_search.js uses them

  // ---- notifications ---------------------------------------------------------------------------------
  root.querySelectorAll("[data-preference]").forEach((box) => {
    prefs[box.dataset.preference] = box.checked;
    box.addEventListener("change", async () => {
      prefs[box.dataset.preference] = box.checked;
      const result = await window.deskConsole.post(t.preferences, { [box.dataset.preference]: String(box.checked) });
      if (result.ok) prefs = { notify_assigned: result.data.notify_assigned, notify_message: result.data.notify_message,
        notify_queue: result.data.notify_queue, sound: result.data.sound };
    });
  });

  function permissionState() {
    const box = $("notify-state");
    if (!("Notification" in window)) { box.textContent = ""; return; }
    box.textContent = Notification.permission === "granted" ? t.tNotifyOn
      : Notification.permission === "denied" ? t.tNotifyBlocked : "";
    $("notify-enable").hidden = Notification.permission === "granted";
  }
  $("notify-enable").addEventListener("click", async () => {
    if ("Notification" in window) await Notification.requestPermission();
    permissionState();
  });
  permissionState();

  let audio = null;
  function beep() {
    root.dataset.beeps = String(Number(root.dataset.beeps || 0) + 1);
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.25);
    } catch (error) { /* no audio device: the notification alone */ }
  }

  function notify(kind, text, tag) {
    if (!prefs[kind]) return;
    if ("Notification" in window && Notification.permission === "granted") {
      const shown = new Notification(text, { tag, body: document.title });
      shown.onclick = () => { window.focus(); const id = Number(tag.split(":")[1]); if (id) openConversation(id); };
    }
    if (prefs.sound) beep();
  }

  function notifyChanges(watch) {
    const before = state.watch;
    state.watch = watch;
    document.title = watch.unread ? `(${watch.unread}) ${t.title}` : t.title;
    if (!before) return; // the first read sets the baseline
    Object.entries(watch.mine).forEach(([id, now]) => {
      const was = before.mine[id];
      if (!was) {
        notify("notify_assigned", t.tAssigned.replace("{name}", now.customer), `assigned:${id}`);
      } else if (now.unread > was.unread && !(Number(id) === state.open && document.visibilityState === "visible")) {
        notify("notify_message", t.tMessage.replace("{name}", now.customer), `message:${id}`);
      }
    });
    if (watch.team_queue > before.team_queue) {
      notify("notify_queue", t.tQueue.replace("{n}", watch.team_queue), "queue:0");
    }
  }

  // ---- keys --------------------------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    if (document.querySelector("dialog[open]") || event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    const typingIn = ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName) && active.type !== "checkbox";
    if (typingIn) {
      if (event.key === "Escape") document.activeElement.blur();
      return;
    }
    const ids = state.rows.map((r) => r.id);
    const at = ids.indexOf(state.cursor);
    if (event.key === "j" || event.key === "ArrowDown") setCursor(ids[Math.min(at + 1, ids.length - 1)] || null, true);
    else if (event.key === "k" || event.key === "ArrowUp") setCursor(ids[Math.max(at - 1, 0)] || null, true);
    else if (event.key === "/") $("inbox-search").focus();
    else if (event.key === "x" && state.cursor) {
      if (state.checked.has(state.cursor)) state.checked.delete(state.cursor); else state.checked.add(state.cursor);
      const box = root.querySelector(`.inbox-row[data-conversation-id="${state.cursor}"] .row-check`);
      if (box) box.checked = state.checked.has(state.cursor);
      renderBulk();
    } else if (event.key === "r" && current) current.focusReply();
    else if (event.key === "e" && current) current.close();
    else if (event.key === "a" && current) current.focusAssign();
    else return;
    event.preventDefault();
  });

  // ---- start ---------------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    window.deskConsole.live(t.ws, () => {
      refresh();
      if (current) current.resync();
    });
    if (t.open) openConversation(Number(t.open));
  });
})();
