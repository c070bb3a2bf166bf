// The inbox's search box: messages, internal notes, customer notes and customer names (the
// blind-index search, apps/console/search.py). Typing (or "/" then typing, Enter) shows the hits in
// the list pane instead of the list, the matched text marked; the list's channel, account and label
// filters and the search's own (dates, agent) apply. A hit opens its conversation at the message (or note).
// Esc, or clearing the box, returns to the list. A query too short for the index (one CJK
// character) says so, and the list keeps filtering customer names by it.
(function () {
  "use strict";
  const root = document.getElementById("console");
  if (!root || root.dataset.page !== "inbox") return;
  const t = root.dataset;
  const $ = (id) => document.getElementById(id);
  const input = $("inbox-search");
  let asked = 0; // the newest request: an older answer arriving late is dropped
  let typing = null;

  const { el } = window.deskConsole; // console.js, loaded first

  function searchUrl(q) {
    const params = new URLSearchParams({ q });
    [["channel", "filter-channel"], ["account", "filter-account"], ["label", "filter-label"], ["date_from", "search-from"],
      ["date_to", "search-to"], ["agent", "search-agent"]]
      .forEach(([name, id]) => { if ($(id) && $(id).value) params.set(name, $(id).value); });
    return `${t.search}?${params}`;
  }

  function when(iso) {
    const date = new Date(iso);
    return date.toDateString() === new Date().toDateString()
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleDateString([], { year: "numeric", month: "2-digit", day: "2-digit" });
  }

  function renderHit(hit) {
    const li = el("li", `search-hit kind-${hit.kind}`);
    li.tabIndex = 0;
    if (hit.conversation_id) li.dataset.conversationId = hit.conversation_id;
    else li.classList.add("no-conversation");
    if (hit.message_id) li.dataset.messageId = hit.message_id;
    if (hit.note_id) li.dataset.noteId = hit.note_id;
    const top = el("div", "row-top");
    top.append(el("b", "row-name", hit.customer || "—"), el("span", "row-time muted", when(hit.at)));
    const snippet = el("div", "hit-snippet");
    hit.segments.forEach((segment) => snippet.append(segment.hit ? el("mark", "", segment.text) : segment.text));
    const meta = el("div", "row-meta");
    meta.append(el("span", `hit-kind kind-${hit.kind}`, hit.kind_label), el("span", "muted", hit.channel_label));
    li.append(top, snippet, meta);
    return li;
  }

  // "hits": the results take the list's place (console.css); "hint": above the list; "": the list.
  function show(searching) {
    root.dataset.results = searching;
    $("inbox-results").hidden = !searching;
  }

  async function run() {
    clearTimeout(typing);
    const q = input.value.trim();
    const mine = ++asked;
    if (!q) { show(""); window.deskInbox.refresh(); return; }
    const response = await fetch(searchUrl(q), { credentials: "same-origin" });
    if (mine !== asked) return;
    if (!response.ok) { window.deskConsole.showError(`${response.status} ${response.statusText}`); return; }
    const data = await response.json();
    if (data.too_short) {
      $("search-state").textContent = t.tSearchShort;
      $("search-hits").replaceChildren();
      show("hint"); // the list stays, filtered by customer name
      window.deskInbox.refresh();
      return;
    }
    $("search-state").textContent = data.hits.length
      ? t.tSearchFound.replace("{n}", data.hits.length) : t.tSearchNone;
    $("search-hits").replaceChildren(...data.hits.map(renderHit));
    const was = root.dataset.results;
    show("hits");
    if (was === "hint") window.deskInbox.refresh(); // the list drops the name filter
  }

  function leave() {
    input.value = "";
    show("");
    asked++;
    window.deskInbox.refresh();
  }

  function openHit(li) {
    if (!li.dataset.conversationId) return;
    root.querySelectorAll(".search-hit.open").forEach((other) => other.classList.remove("open"));
    li.classList.add("open");
    const at = li.dataset.messageId ? { message: Number(li.dataset.messageId) }
      : li.classList.contains("kind-note") && li.dataset.noteId ? { note: Number(li.dataset.noteId) } : null;
    window.deskInbox.open(Number(li.dataset.conversationId), { at });
  }

  input.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(run, 250);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") leave(); // inbox.js blurs the box as well
  });
  $("inbox-search-form").addEventListener("submit", (event) => { event.preventDefault(); run(); });
  root.querySelectorAll(".inbox-filters select, #search-filters input, #search-filters select").forEach((field) => {
    field.addEventListener("change", () => { if (input.value.trim()) run(); });
  });
  $("search-hits").addEventListener("click", (event) => {
    const li = event.target.closest(".search-hit");
    if (li) openHit(li);
  });
  $("search-hits").addEventListener("keydown", (event) => {
    const li = event.target.closest(".search-hit");
    if (li && event.key === "Enter") { event.preventDefault(); openHit(li); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !root.dataset.results || document.querySelector("dialog[open]")) return;
    if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
    leave();
  });
})();
