/*
 * The demo host page's side of the widget: what a real site does after its own sign-in.
 * The chosen identity is kept in localStorage (so it survives reloads and page changes);
 * every time the widget (re)connects it asks for a fresh, short-lived token, which this
 * page's backend mints (POST /demo/token, demo mode only).
 */
(function () {
  "use strict";
  const settings = JSON.parse(document.getElementById("lumen-demo-config").textContent);
  const KEY = "lumenDemo:customer";

  function chosen() {
    try {
      return window.localStorage.getItem(KEY) || "";
    } catch (_) {
      return "";
    }
  }

  async function getCustomerToken() {
    const customerId = chosen();
    if (!customerId) return null;
    const response = await fetch(settings.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ customer_id: customerId }),
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error("token request failed: HTTP " + response.status);
    return (await response.json()).token;
  }

  window.LumenChatConfig = {
    rasaUrl: settings.rasaUrl,
    getCustomerToken,
    title: "Lumen support",
    subtitle: "Ask about your plan, orders or points",
  };

  function showIdentity(select) {
    const option = select.options[select.selectedIndex];
    const account = document.getElementById("demo-account");
    account.textContent = select.value ? "Signed in as " + option.textContent.split(" (")[0] : "Sign in";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("demo-identity");
    const status = document.getElementById("demo-identity-status");
    const current = chosen();
    if (Array.from(select.options).some((o) => o.value === current)) select.value = current;
    showIdentity(select);
    select.addEventListener("change", () => {
      try {
        window.localStorage.setItem(KEY, select.value);
      } catch (_) {
        /* storage refused: the choice lasts for this page only */
      }
      showIdentity(select);
      status.textContent = select.value ? "Signed in; the chat now knows you." : "Signed out; the chat treats you as a guest.";
      if (window.LumenChat) window.LumenChat.restart();
    });
    // Signed in or out in another tab of this site: this tab's chat follows at once.
    window.addEventListener("storage", (event) => {
      if (event.key !== KEY) return;
      select.value = chosen();
      showIdentity(select);
      if (window.LumenChat) window.LumenChat.restart();
    });
  });
})();
