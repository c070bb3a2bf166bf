// The customer panel's Orders section (templates/connectors/_orders.html): the customer's recent orders
// from the shop connector (apps.connectors views) and, for agents allowed to, an after-sales request.
// The inbox puts the panel in with innerHTML, so this script watches for it and mounts each new one.
(function () {
  "use strict";

  if (!window.deskConsole) return; // console.js (loaded first) found no console on this page
  const { el } = window.deskConsole;

  // console.js (loaded first, base.html) posts with the CSRF token and reads the JSON answer.
  const post = (url, data) => window.deskConsole.post(url, data);

  function mount(box) {
    box.dataset.mounted = "true";
    const t = box.dataset;
    const list = box.querySelector("#cp-order-list");
    const none = box.querySelector("#cp-orders-none");
    const error = box.querySelector("#cp-orders-error");

    function showError(text) {
      error.textContent = text || "";
      error.hidden = !text;
    }

    function draw(data) {
      list.replaceChildren();
      none.hidden = data.orders.length > 0;
      none.textContent = data.configured ? t.tNone : t.tOff;
      for (const order of data.orders) {
        const li = el("li", "cp-order");
        li.dataset.orderNo = order.order_no;
        const top = el("div", "cp-order-top");
        top.append(el("b", "cp-order-no", order.order_no), " ", el("span", "cp-order-status", order.status));
        li.append(top);
        if (order.title) li.append(el("div", "muted", order.title));
        if (order.tracking_no) li.append(el("div", "cp-order-tracking", `${t.tTracking}: ${order.carrier} ${order.tracking_no}`));
        if (order.eta) li.append(el("div", "muted", `${t.tEta}: ${order.eta}`));
        if (data.can_after_sale) {
          const start = el("button", "button cp-after-sale", t.tAfterSale);
          start.type = "button";
          start.addEventListener("click", () => startAfterSale(order.order_no, start));
          li.append(start);
        }
        list.append(li);
      }
    }

    async function startAfterSale(orderNo, button) {
      const reason = window.prompt(t.tReason);
      if (!reason) return;
      button.disabled = true;
      const result = await post(t.afterSale, { customer: t.customerId, order_no: orderNo, reason });
      button.disabled = false;
      if (!result.ok) { showError(result.data.error || String(result.status)); return; }
      showError("");
      button.replaceWith(el("div", "cp-after-sale-done", t.tCreated.replace("{id}", result.data.request_id)));
    }

    async function load() {
      const response = await fetch(t.orders, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        showError(t.tFailed.replace("{why}", data.error || String(response.status)));
        box.dataset.state = "failed";
        return;
      }
      draw(data);
      box.dataset.state = "ready";
    }
    load();
  }

  function mountAll() {
    document.querySelectorAll(".cp-orders[data-orders]:not([data-mounted])").forEach(mount);
  }
  new MutationObserver(mountAll).observe(document.getElementById("console") || document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", mountAll);
})();
