// Media in the console: thumbnails that enlarge, voice players, file links, failures said plainly
// (the timeline renders them from its JSON; the queue's rows arrive rendered by
// templates/console/_media.html, with the same markup), and the composer's attach button.
(function () {
  "use strict";
  const root = document.getElementById("console");
  const t = root ? root.dataset : {};

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function size(bytes) {
    if (!bytes && bytes !== 0) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  // One attachment as _media.html renders it.
  function renderOne(a) {
    const box = el("div", `media media-${a.kind}`);
    box.dataset.attachmentId = a.id;
    if (a.error_line) {
      box.appendChild(el("div", "media-error", a.error_line)).setAttribute("role", "status");
    } else if (!a.url) {
      box.appendChild(el("div", "media-pending muted", t.tReceiving));
    } else if (a.kind === "image") {
      const button = el("button", "media-thumb");
      button.type = "button";
      button.dataset.full = a.url;
      button.title = t.tEnlarge || "";
      const img = el("img");
      img.src = a.thumb_url;
      img.alt = t.tImage || "";
      img.loading = "lazy";
      if (a.width && a.height) {
        // The box is sized before the picture loads, so the timeline does not jump when it does.
        const scale = Math.min(1, 240 / a.width, 180 / a.height);
        img.style.width = `${Math.max(1, Math.round(a.width * scale))}px`;
        img.style.height = `${Math.max(1, Math.round(a.height * scale))}px`;
      }
      button.appendChild(img);
      box.appendChild(button);
    } else if (a.kind === "voice") {
      const audio = el("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = a.url;
      box.appendChild(audio);
    } else if (a.kind === "video") {
      const video = el("video");
      video.controls = true;
      video.preload = "none";
      video.src = a.url;
      if (a.thumb_url) video.poster = a.thumb_url;
      box.appendChild(video);
    } else {
      const link = el("a", "media-file", a.filename || t.tDownload);
      link.href = a.url;
      link.setAttribute("download", "");
      box.append(link, " ", el("span", "muted", size(a.size)));
    }
    if (a.text) box.appendChild(el("div", "media-text", `${t.tRecognised} ${a.text}`));
    return box;
  }

  function render(attachments) {
    return (attachments || []).map(renderOne);
  }

  // Media still being fetched from the channel: the timeline asks for these messages again.
  const pending = new Set();
  function fill(li, message) {
    li.querySelectorAll(":scope > .media").forEach((node) => node.remove());
    const nodes = render(message.attachments);
    li.classList.toggle("has-media", nodes.length > 0);
    const after = li.querySelector(":scope > .delivery-error");
    nodes.forEach((node) => li.insertBefore(node, after));
    if ((message.attachments || []).some((a) => a.status === "pending")) pending.add(message.id);
    else pending.delete(message.id);
  }

  // A click on any thumbnail (timeline or queue) shows the full picture in a dialog.
  function lightbox() {
    const dialog = document.getElementById("media-dialog");
    if (!dialog) return;
    const img = document.getElementById("media-full");
    document.addEventListener("click", (event) => {
      const thumb = event.target.closest(".media-thumb");
      if (!thumb) return;
      event.preventDefault();
      img.src = thumb.dataset.full;
      dialog.showModal();
    });
    dialog.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { img.removeAttribute("src"); });
  }

  // The composer's attach button: the file goes as multipart/form-data as soon as it is picked.
  function uploader({ input, url, csrf, done, fail }) {
    const max = Number(input.dataset.maxBytes || 0);
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (!file) return;
      input.value = "";
      if (max && file.size > max) { fail(t.tTooLarge); return; }
      const form = new FormData();
      form.append("file", file, file.name);
      const label = input.closest("label");
      if (label) label.classList.add("busy");
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
          body: form,
          credentials: "same-origin",
        });
        const data = await response.json().catch(() => ({}));
        if (response.ok) await done(data);
        else fail(data.error || (response.status === 413 ? t.tTooLarge : `${response.status} ${response.statusText}`));
      } catch (error) {
        fail(String(error));
      } finally {
        if (label) label.classList.remove("busy");
      }
    });
  }

  lightbox();
  window.deskMedia = { render, fill, pending, uploader };
})();
