// The customer panel (templates/console/_customer_panel.html): the profile of the person behind the
// conversation's customer, from apps.customers' JSON endpoints: identities (undo a merge), labels,
// notes, satisfaction, every conversation. The inbox puts the panel in with innerHTML, so this
// script watches for it and mounts each new one; every action rereads the profile.
(function () {
  "use strict";

  if (!window.deskConsole) return; // console.js (loaded first) found no console on this page
  const { el } = window.deskConsole;

  const pad = (n) => String(n).padStart(2, "0");
  function when(iso, withTime) {
    if (!iso) return "";
    const d = new Date(iso);
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    return withTime ? `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}` : day;
  }

  function shorten(id) {
    return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id;
  }

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  }

  // console.js (loaded first, base.html) posts with the CSRF token and reads the JSON answer.
  const post = (url, data) => window.deskConsole.post(url, data);

  let labelsCache = null; // the admin's labels change rarely: read once per page

  function mount(box) {
    box.dataset.mounted = "true";
    const u = box.dataset;
    const q = (id) => box.querySelector(`#${id}`);
    const customerId = u.customerId;
    const conversationId = Number(u.conversationId);
    let profile = null;
    let canMerge = false;
    let picked = null;

    function showError(text) {
      q("cp-error").textContent = text || "";
      q("cp-error").hidden = !text;
    }
    const why = (result) => (result.data && result.data.error) || String(result.status);

    async function load() {
      const [answer] = await Promise.all([getJson(u.profile), labelsCache ? null : loadLabels()]);
      if (!answer.ok) {
        showError(u.tFailed.replace("{why}", why(answer)));
        box.dataset.state = "failed";
        return;
      }
      showError("");
      show(answer.data.profile, answer.data.can_merge);
    }

    async function loadLabels() {
      const answer = await getJson(u.labels);
      labelsCache = answer.ok ? answer.data.labels : [];
    }

    function show(data, may) {
      profile = data;
      canMerge = may;
      box.dataset.personId = data.person_id;
      box.dataset.identities = data.identities.length;
      const first = box.closest(".customer-panel") && box.closest(".customer-panel").querySelector("#cp-first-seen");
      if (first) { first.textContent = when(data.first_seen, true); first.dateTime = data.first_seen; }
      showIdentities(data.identities);
      showLabels(data.labels);
      showNotes(data.notes);
      showRatings(data.satisfaction);
      showConversations(data.conversations, data.conversations_total);
      q("cp-merge-open").hidden = !canMerge;
      box.dataset.state = "ready";
    }

    function linkedBy(identity) {
      if (identity.linked_by === "agent") return u.tMergedBy.replace("{agent}", identity.linked_by_user || "—");
      if (identity.linked_by === "unionid") return u.tUnionid;
      return u.tFirstContact;
    }

    function showIdentities(identities) {
      q("cp-identities").replaceChildren(...identities.map((identity) => {
        const li = el("li", "cp-identity");
        li.dataset.customerId = identity.customer_id;
        li.dataset.channel = identity.channel;
        const top = el("div", "cp-identity-top");
        top.append(el("span", `cp-channel cp-channel-${identity.channel}`, identity.channel_label),
          el("b", "", identity.display_name || shorten(identity.external_id)));
        const id = el("code", "cp-external", shorten(identity.external_id));
        id.title = identity.external_id;
        const how = el("div", "cp-linked muted");
        how.append(id, ` · ${linkedBy(identity)} · `, el("span", "cp-nowrap", when(identity.linked_at)));
        li.append(top, how);
        if (identity.can_unmerge && canMerge) {
          const undo = el("button", "button cp-undo", u.tUndo);
          undo.type = "button";
          undo.dataset.identity = identity.id;
          li.append(undo);
        }
        return li;
      }));
    }

    function showLabels(labels) {
      q("cp-labels").replaceChildren(...labels.map((label) => {
        const chip = el("span", "cp-label");
        chip.dataset.labelId = label.id;
        chip.style.setProperty("--label-colour", label.colour || "#888");
        chip.append(el("span", "", label.name));
        const remove = el("button", "cp-label-remove", "×");
        remove.type = "button";
        remove.dataset.removeLabel = label.id;
        remove.setAttribute("aria-label", u.tRemoveLabel.replace("{name}", label.name));
        remove.title = remove.getAttribute("aria-label");
        chip.append(remove);
        return chip;
      }));
      const select = q("cp-label-add");
      const on = new Set(labels.map((label) => label.id));
      const free = (labelsCache || []).filter((label) => !on.has(label.id));
      select.replaceChildren(select.options[0], ...free.map((label) => {
        const option = el("option", "", label.name);
        option.value = label.id;
        return option;
      }));
      select.value = "";
      select.hidden = free.length === 0;
    }

    function showNotes(notes) {
      q("cp-notes").replaceChildren(...notes.map((note) => {
        const li = el("li", "cp-note");
        li.append(el("div", "cp-note-body", note.body), el("div", "muted", `${note.author || "—"} · ${when(note.created_at, true)}`));
        return li;
      }));
      q("cp-notes-none").hidden = notes.length > 0;
    }

    function showRatings(ratings) {
      q("cp-ratings").replaceChildren(...ratings.map((rating) => {
        const li = el("li", "cp-rating");
        const stars = el("span", "cp-stars", "★".repeat(rating.score) + "☆".repeat(Math.max(0, 5 - rating.score)));
        stars.title = u.tScore.replace("{n}", rating.score);
        stars.setAttribute("aria-label", stars.title);
        const meta = el("span", "muted", ` ${when(rating.answered_at)}${rating.agent ? ` · ${rating.agent}` : ""}`);
        li.append(stars, meta);
        if (rating.comment) li.append(el("div", "cp-comment", rating.comment));
        return li;
      }));
      q("cp-ratings-none").hidden = ratings.length > 0;
    }

    function showConversations(conversations, total) {
      q("cp-conversations-total").textContent = total ? `(${total})` : "";
      q("cp-conversations").replaceChildren(...conversations.map((c) => {
        const li = el("li", `cp-conversation mode-${c.mode}`);
        const here = c.id === conversationId;
        li.classList.toggle("current", here);
        const link = el("a", "cp-conversation-link");
        link.href = `${u.inbox}?c=${c.id}`;
        link.dataset.openConversation = c.id; // the inbox opens it in its centre pane
        if (here) link.setAttribute("aria-current", "true");
        const top = el("div", "cp-conversation-top");
        top.append(el("span", `cp-channel cp-channel-${c.channel}`, c.channel_label),
          el("span", "cp-nowrap", when(c.created_at, true)));
        const bits = [`#${c.id}`, c.end_reason_label || c.mode_label, c.assignee, u.tMessages.replace("{n}", c.message_count)];
        if (here) bits.splice(1, 0, u.tThisOne);
        link.append(top, el("div", "muted", bits.filter(Boolean).join(" · ")));
        li.append(link);
        return li;
      }));
      const older = total - conversations.length;
      q("cp-older").hidden = older <= 0;
      q("cp-older").textContent = older > 0 ? u.tOlder.replace("{n}", older) : "";
    }

    // ---- actions: each one rereads the profile --------------------------------------------------
    async function act(url, data) {
      box.dataset.state = "saving";
      const result = await post(url, data);
      if (!result.ok) { showError(why(result)); box.dataset.state = "ready"; return result; }
      await load();
      return result;
    }

    box.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove-label]");
      if (remove) {
        act(u.label, { target: "customer", id: customerId, label: remove.dataset.removeLabel, op: "remove" });
        return;
      }
      const undo = event.target.closest(".cp-undo");
      if (undo) { undo.disabled = true; act(u.unmerge, { identity: undo.dataset.identity }); }
    });
    q("cp-label-add").addEventListener("change", (event) => {
      if (event.target.value) act(u.label, { target: "customer", id: customerId, label: event.target.value, op: "add" });
    });
    q("cp-note-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = q("cp-note-body").value.trim();
      if (!body) return;
      const result = await act(u.note, { customer: customerId, body });
      if (result.ok) q("cp-note-body").value = "";
    });
    q("cp-note-body").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); q("cp-note-form").requestSubmit(); }
    });

    // ---- merge: find, pick, confirm ----------------------------------------------------------------
    const dialog = q("cp-merge-dialog");
    function mergeError(text) {
      q("cp-merge-error").textContent = text || "";
      q("cp-merge-error").hidden = !text;
    }
    function step(confirming) {
      q("cp-merge-find").hidden = confirming;
      q("cp-merge-confirm").hidden = !confirming;
      q("cp-merge-go").hidden = !confirming;
    }
    q("cp-merge-open").addEventListener("click", () => {
      picked = null;
      step(false);
      mergeError("");
      q("cp-merge-q").value = "";
      q("cp-merge-results").replaceChildren();
      dialog.showModal();
      q("cp-merge-q").focus();
    });
    q("cp-merge-cancel").addEventListener("click", () => dialog.close());
    let typing = null;
    let asked = 0;
    q("cp-merge-q").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(find, 200);
    });
    async function find() {
      const text = q("cp-merge-q").value.trim();
      const mine = ++asked;
      if (!text) { q("cp-merge-results").replaceChildren(); return; }
      const answer = await getJson(`${u.find}?${new URLSearchParams({ q: text, exclude: customerId })}`);
      if (mine !== asked) return;
      if (!answer.ok) { mergeError(why(answer)); return; }
      mergeError("");
      const results = answer.data.results;
      q("cp-merge-results").replaceChildren(...(results.length ? results.map((row) => {
        const li = el("li");
        const pick = el("button", "cp-merge-pick");
        pick.type = "button";
        pick.dataset.customerId = row.customer_id;
        pick.append(el("span", `cp-channel cp-channel-${row.channel}`, row.channel_label),
          el("b", "", row.display_name || shorten(row.external_id)), el("code", "muted", shorten(row.external_id)));
        pick.addEventListener("click", () => {
          picked = row;
          q("cp-merge-picked").replaceChildren(...pick.cloneNode(true).childNodes);
          step(true);
          q("cp-merge-go").focus();
        });
        li.append(pick);
        return li;
      }) : [el("li", "muted", u.tNoResults)]));
    }
    q("cp-merge-go").addEventListener("click", async () => {
      if (!picked) return;
      q("cp-merge-go").disabled = true;
      const result = await post(u.merge, { keep: customerId, merge: picked.customer_id });
      q("cp-merge-go").disabled = false;
      if (!result.ok) { mergeError(why(result)); return; }
      dialog.close();
      show(result.data.profile, result.data.can_merge);
    });

    load();
  }

  // ---- the panel on a phone: under the conversation, a jump each way -------------------------------
  document.addEventListener("click", (event) => {
    const jump = event.target.closest("[data-cp-jump]");
    if (!jump) return;
    const target = document.getElementById(jump.dataset.cpJump === "customer" ? "customer-panel" : "conversation-pane");
    if (target) target.scrollIntoView({ behavior: "smooth", block: "start" });
  });

  // The conversation pane's head gets a "Customer" button (shown below 800 px, customer.css).
  function addJump(panel) {
    const head = document.querySelector("#conversation-pane .conversation-head h2");
    if (!head || head.querySelector("[data-cp-jump]")) return;
    const button = el("button", "button cp-jump", `${panel.dataset.tJump || ""} ↓`);
    button.type = "button";
    button.dataset.cpJump = "customer";
    head.append(" ", button);
  }

  function mountAll() {
    document.querySelectorAll(".customer-profile[data-profile]:not([data-mounted])").forEach((box) => {
      mount(box);
      addJump(box);
    });
  }
  new MutationObserver(mountAll).observe(document.getElementById("console") || document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", mountAll);
})();
