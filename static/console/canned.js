// Canned replies in the composer: "/" opens a list searched by shortcut, title and text (arrows,
// Enter or Tab picks, Esc closes). The server has filled {customer_name} and {agent_name}; any
// other {name} is a fill-in the agent types in a small form before the text goes in.
(function () {
  "use strict";
  const TOKEN = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
  const MAX_SHOWN = 8;

  function fill(text, values) {
    return text.replace(TOKEN, (token, name) => {
      if (token === "{{") return "{";
      if (token === "}}") return "}";
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : token;
    });
  }

  function composer({ pane, reply, strings }) {
    const data = pane.querySelector("#canned-data");
    const all = data ? JSON.parse(data.textContent) : [];
    const menu = pane.querySelector("#canned-menu");
    const dialog = pane.querySelector("#fill-in-dialog");
    let shown = [];
    let index = 0;
    let slash = null; // [start, end] of "/query" in the textarea while the menu is open

    function query() {
      const before = reply.value.slice(0, reply.selectionStart);
      const match = before.match(/(^|\s)\/([^\s/]*)$/);
      if (!match) return null;
      return { text: match[2].toLowerCase(), start: before.length - match[2].length - 1, end: before.length };
    }

    function render() {
      menu.replaceChildren();
      if (!shown.length) {
        const none = document.createElement("div");
        none.className = "canned-none muted";
        none.textContent = strings.tNoCanned || "";
        menu.appendChild(none);
      }
      shown.forEach((c, i) => {
        const option = document.createElement("div");
        option.className = "canned-option";
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", String(i === index));
        option.dataset.shortcut = c.shortcut;
        const head = document.createElement("b");
        head.textContent = `/${c.shortcut} · ${c.title}`;
        const body = document.createElement("div");
        body.className = "muted";
        body.textContent = c.text;
        option.append(head, body);
        option.addEventListener("mousedown", (event) => { event.preventDefault(); pick(c); });
        menu.appendChild(option);
      });
    }

    function update() {
      const found = query();
      if (!found) { hide(); return; }
      slash = [found.start, found.end];
      const q = found.text;
      shown = all.filter((c) => !q || [c.shortcut, c.title, c.text].some((s) => s.toLowerCase().includes(q)));
      shown = shown.slice(0, MAX_SHOWN);
      index = Math.min(index, Math.max(shown.length - 1, 0));
      menu.hidden = false;
      render();
    }

    function hide() {
      menu.hidden = true;
      slash = null;
      index = 0;
    }

    function insert(text) {
      const [start, end] = slash || [reply.selectionStart, reply.selectionStart];
      reply.value = reply.value.slice(0, start) + text + reply.value.slice(end);
      hide();
      reply.focus();
      reply.selectionStart = reply.selectionEnd = start + text.length;
    }

    function pick(c) {
      const range = slash;
      if (!c.fill_ins.length) { insert(fill(c.text, {})); return; }
      menu.hidden = true;
      const fields = dialog.querySelector("#fill-in-fields");
      fields.replaceChildren();
      dialog.querySelector("#fill-in-title").textContent = `/${c.shortcut} · ${c.title}`;
      c.fill_ins.forEach((name) => {
        const label = document.createElement("label");
        label.textContent = name;
        const input = document.createElement("input");
        input.name = name;
        input.required = true;
        input.dataset.fillIn = name;
        label.appendChild(input);
        fields.appendChild(label);
      });
      const form = dialog.querySelector("#fill-in-form");
      form.onsubmit = (event) => {
        event.preventDefault();
        const values = {};
        fields.querySelectorAll("input").forEach((input) => { values[input.name] = input.value; });
        dialog.close();
        slash = range;
        insert(fill(c.text, values));
      };
      dialog.querySelector("#fill-in-cancel").onclick = () => { dialog.close(); hide(); reply.focus(); };
      dialog.showModal();
      const first = fields.querySelector("input");
      if (first) first.focus();
    }

    function keydown(event) {
      if (menu.hidden) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const step = event.key === "ArrowDown" ? 1 : -1;
        index = shown.length ? (index + step + shown.length) % shown.length : 0;
        render();
      } else if ((event.key === "Enter" && !event.ctrlKey && !event.metaKey) || event.key === "Tab") {
        if (!shown.length) return false;
        pick(shown[index]);
      } else if (event.key === "Escape") {
        hide();
      } else {
        return false;
      }
      event.preventDefault();
      event.stopPropagation();
      return true;
    }

    const onInput = () => update();
    const onBlur = () => setTimeout(() => { if (document.activeElement !== reply) menu.hidden = true; }, 150);
    reply.addEventListener("input", onInput);
    reply.addEventListener("blur", onBlur);
    return {
      keydown,
      destroy() {
        reply.removeEventListener("input", onInput);
        reply.removeEventListener("blur", onBlur);
      },
    };
  }

  window.deskCanned = { composer, fill };
})();
