// One conversation: timeline, state, actions, composer (canned replies on "/"), notes.
// Its own page mounts it with a websocket of its own; the inbox mounts each pane it loads and
// feeds it the nudges of its list socket. mount() returns what the inbox's keys need.
(function () {
  "use strict";
  const strings = () => (document.getElementById("console") || document.body).dataset;
  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  function mount(pane, options) {
    const { post, serial, live, showError, csrf } = window.deskConsole;
    const opts = options || {};
    const t = strings();
    const u = pane.dataset;
    const $ = (id) => pane.querySelector(`#${id}`);
    const seen = { message: 0, event: 0, note: 0 };
    const actionUrl = (action) => u.action.replace("ACTION", action);
    const stop = new AbortController(); // document-wide listeners end with the pane
    let socket = null;
    let readUpTo = 0;
    let reveal = opts.reveal || null; // {message: id} or {note: id}: scroll there once it is shown

    // A search hit: bring its message (or note) into view and mark it for a moment.
    function revealHit() {
      if (!reveal) return;
      const li = reveal.message ? $("timeline").querySelector(`li.msg[data-id="${reveal.message}"]`)
        : $("notes").querySelector(`li.note[data-id="${reveal.note}"]`);
      reveal = null;
      if (!li) return;
      li.classList.add("search-target");
      li.scrollIntoView({ block: "center" });
    }

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
      const who = m.author_kind === "customer" ? u.customer
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

    // What the agent has seen moves their read marker (the inbox's unread counts).
    function markRead() {
      if (!u.read || seen.message <= readUpTo || document.visibilityState === "hidden") return;
      readUpTo = seen.message;
      post(u.read, { message: readUpTo }).then(() => pane.dispatchEvent(new Event("conversation:read", { bubbles: true })));
    }

    const resync = serial(async () => {
      if (!pane.isConnected) return;
      const refresh = [...window.deskMedia.pending].join(",");
      const url = `${u.timeline}?after=${seen.message}&after_event=${seen.event}&after_note=${seen.note}&refresh=${refresh}`;
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok || !pane.isConnected) return;
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
      revealHit();
      renderState(data.state);
      markRead();
      pane.dispatchEvent(new CustomEvent("conversation:state", { bubbles: true, detail: data.state }));
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
      pane.dispatchEvent(new Event("conversation:acted", { bubbles: true }));
      return true;
    }

    $("take-over").addEventListener("click", () => act("take-over"));
    $("hand-back").addEventListener("click", () => act("hand-back"));
    $("close-conversation").addEventListener("click", () => act("close"));
    $("assign").addEventListener("click", () => act("assign", { assignee: $("assignee").value }));
    $("assignee").addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); $("assign").click(); }
    });

    const reply = $("reply-body");
    const canned = window.deskCanned.composer({ pane, reply, strings: t });
    reply.addEventListener("keydown", (event) => {
      if (canned.keydown(event)) return;
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("composer").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!reply.value.trim()) return;
      if (await act("reply", { body: reply.value })) reply.value = "";
    });
    window.deskMedia.uploader({
      input: $("attach-file"),
      url: u.media,
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
    }, { signal: stop.signal });
    document.addEventListener("visibilitychange", markRead, { signal: stop.signal });

    if (opts.socket) socket = live(u.ws, resync);
    else resync();

    return {
      id: Number(u.conversationId),
      resync,
      act,
      focusReply() {
        if (reply.disabled) { $("take-over").focus(); return; }
        reply.focus();
      },
      focusAssign() { $("assignee").focus(); },
      close() { if (!$("close-conversation").disabled) act("close"); },
      destroy() {
        stop.abort();
        canned.destroy();
        if (socket) socket.close();
      },
    };
  }

  window.deskConversation = { mount };
})();
