// The inbox's one script: live updates over server-sent events, and replies without a reload.
//
// The server renders every fragment with the same autoescaped templates as the page and sends
// it whole (queue table, one message, the action panel); this script only swaps them in. The
// browser's EventSource reconnects by itself and sends Last-Event-ID, so no message is shown
// twice or lost across reconnects. Without this script the page still works: forms post and
// redirect back.
(function () {
  "use strict";

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html; // server-rendered, autoescaped; CSP forbids inline script anyway
    return template.content;
  }

  function listen(url, handlers) {
    const source = new EventSource(url);
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
    }
    source.addEventListener("signed_out", () => {
      source.close();
      window.location.reload(); // the page itself redirects to sign-in
    });
    return source;
  }

  // The queue: replaced whole whenever it changes.
  const queue = document.getElementById("queue");
  if (queue) {
    listen(queue.dataset.feed, {
      queue: (data) => queue.replaceChildren(fragment(data.html)),
    });
  }

  // One conversation: new messages appended, the action panel replaced when the handoff changes.
  const messages = document.getElementById("messages");
  const panel = document.getElementById("panel");
  if (messages && panel) {
    const seen = new Set(Array.from(messages.querySelectorAll("[data-event]"), (node) => node.dataset.event));
    listen(messages.dataset.feed, {
      message: (data) => {
        const node = fragment(data.html);
        const id = node.firstElementChild && node.firstElementChild.dataset.event;
        if (id && seen.has(id)) return;
        if (id) seen.add(id);
        messages.appendChild(node);
        messages.lastElementChild.scrollIntoView({ block: "nearest" });
      },
      panel: (data) => {
        const typing = panel.querySelector("textarea");
        const draft = typing ? typing.value : "";
        panel.replaceChildren(fragment(data.html));
        const again = panel.querySelector("textarea");
        if (again && draft) again.value = draft;
      },
    });

    // A reply is posted in the background; it appears in the log through the feed, like any message.
    panel.addEventListener("submit", async (event) => {
      const form = event.target;
      if (!form.classList.contains("reply")) return;
      event.preventDefault();
      const status = form.querySelector(".reply-status");
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const answer = await response.json().catch(() => ({ ok: false, error: "unexpected answer " + response.status }));
        if (answer.ok) {
          form.querySelector("textarea").value = "";
          status.textContent = "Sent";
        } else {
          status.textContent = "Not sent: " + answer.error;
        }
      } catch (error) {
        status.textContent = "Not sent: the console could not be reached";
      } finally {
        button.disabled = false;
        form.querySelector("textarea").focus();
      }
    });
  }
})();
