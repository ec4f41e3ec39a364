/*!
 * Lumen chat widget: the website's chat bubble, talking to Lumen's assistant (Rasa)
 * over socket.io through the verified channel (bot/channels/socketio.py).
 *
 * Embed (docs/WIDGET.md):
 *   <script>window.LumenChatConfig = { rasaUrl: "https://chat.example.com",
 *                                      getCustomerToken: async () => token };</script>
 *   <script src="https://assets.example.com/widget/widget.js" defer></script>
 *
 * Plain modern JavaScript, no build step. The stylesheet and socket.io-client's browser
 * bundle are loaded from this script's own folder. Everything the bot or the customer
 * wrote is inserted as text (textContent / text nodes); only http(s) and mailto links
 * become <a> elements, built with DOM calls. Nothing is ever parsed as HTML.
 */
(function () {
  "use strict";

  if (window.LumenChat && window.LumenChat.version) return; // embedded twice: keep the first

  const VERSION = "0.1.0";
  const MAX_CHARS = 2000; // the server refuses longer messages (bot/channels/limits.py)
  const TYPING_TIMEOUT_MS = 45000;
  const HISTORY_WAIT_MS = 3000;
  const REFRESH_BEFORE_MS = 60000; // ask the host page for a fresh customer token this long before it expires
  const PREFIX = "lumen-chat";
  const PROACTIVE_AFTER_MS = 120000;
  // The server acknowledges a message once its turn is over (bot/channels/socketio.py); a turn
  // longer than this (Rasa's lock lasts 60 s) is given up as "Not sent", with a retry.
  const ACK_TIMEOUT_MS = 90000;

  const script = document.currentScript;
  const assetBase = new URL(".", (script && script.src) || window.location.href);
  const userConfig = window.LumenChatConfig || {};
  const config = {
    rasaUrl: userConfig.rasaUrl || "http://localhost:5005",
    socketPath: userConfig.socketPath || null,
    getCustomerToken: typeof userConfig.getCustomerToken === "function" ? userConfig.getCustomerToken : null,
    title: userConfig.title || "Lumen support",
    subtitle: userConfig.subtitle || "We usually answer right away",
    botName: userConfig.botName || "Lumen",
    welcome: userConfig.welcome || "Hi! Ask me about your plan, renewal, orders or loyalty points.",
    storageKey: userConfig.storageKey || "lumenChat",
    assetBase: userConfig.assetBase ? new URL(userConfig.assetBase, window.location.href) : assetBase,
  };

  // ---------------------------------------------------------------------------
  // Storage: open/closed state, the anonymous session id, what was already seen.
  // localStorage is shared by every page of the site, so the conversation follows
  // the visitor from page to page; a browser that refuses storage still chats.
  // ---------------------------------------------------------------------------
  const store = {
    get(name) {
      try {
        return window.localStorage.getItem(config.storageKey + ":" + name);
      } catch (_) {
        return null;
      }
    },
    set(name, value) {
      try {
        if (value === null || value === undefined) window.localStorage.removeItem(config.storageKey + ":" + name);
        else window.localStorage.setItem(config.storageKey + ":" + name, String(value));
      } catch (_) {
        /* private mode or storage full: the chat works, it only forgets across pages */
      }
    },
  };

  // Messages not yet acknowledged by the server, kept per tab (sessionStorage survives a reload
  // and the tab's navigation, but is not shared with the customer's other tabs, which would
  // otherwise send them too). [{id, payload, title, failed}], oldest first.
  const outboxStore = {
    load() {
      try {
        const saved = JSON.parse(window.sessionStorage.getItem(config.storageKey + ":outbox") || "[]");
        if (!Array.isArray(saved)) return [];
        return saved
          .filter((e) => e && typeof e.id === "string" && typeof e.payload === "string" && e.payload)
          .map((e) => ({ id: e.id, payload: e.payload, title: String(e.title || e.payload), failed: !!e.failed }));
      } catch (_) {
        return [];
      }
    },
    save(entries) {
      try {
        const kept = entries.map(({ id, payload, title, failed }) => ({ id, payload, title, failed }));
        if (kept.length) window.sessionStorage.setItem(config.storageKey + ":outbox", JSON.stringify(kept));
        else window.sessionStorage.removeItem(config.storageKey + ":outbox");
      } catch (_) {
        /* storage refused: the messages still wait in this page */
      }
    },
  };

  /** A message id the server accepts (bot/channels/limits.py): a UUID, or 32 random hex digits. */
  function newMessageId() {
    const cryptoApi = window.crypto;
    if (cryptoApi && typeof cryptoApi.randomUUID === "function") return cryptoApi.randomUUID();
    const bytes = new Uint8Array(16);
    if (cryptoApi && typeof cryptoApi.getRandomValues === "function") cryptoApi.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---------------------------------------------------------------------------
  // Small DOM helpers. `el` never takes HTML: children are nodes or plain strings.
  // ---------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children || []) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  const cls = (name) => PREFIX + "__" + name;

  // http(s) URLs, www. addresses and mailto: links; everything else stays text.
  const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"'`]+/gi;
  const TRAILING = /[.,;:!?)\]}'"]+$/;

  function safeHref(candidate) {
    try {
      const url = new URL(candidate);
      if (url.protocol === "http:" || url.protocol === "https:" || url.protocol === "mailto:") return url.href;
    } catch (_) {
      /* not a URL after all: leave it as text */
    }
    return null;
  }

  /** Text with links, as DOM nodes: text nodes and <a> elements, nothing interpreted. */
  function richText(text) {
    const fragment = document.createDocumentFragment();
    const value = String(text === null || text === undefined ? "" : text);
    let last = 0;
    for (const match of value.matchAll(LINK)) {
      let raw = match[0];
      const trail = raw.match(TRAILING);
      if (trail) raw = raw.slice(0, raw.length - trail[0].length);
      const href = safeHref(raw);
      if (!href || !raw) continue;
      if (match.index > last) fragment.appendChild(document.createTextNode(value.slice(last, match.index)));
      const link = el("a", { href, target: "_blank", rel: "noopener noreferrer", className: cls("link") });
      link.textContent = raw; // the words as written; only the element is ours
      fragment.appendChild(link);
      last = match.index + raw.length;
    }
    if (last < value.length) fragment.appendChild(document.createTextNode(value.slice(last)));
    return fragment;
  }

  // ---------------------------------------------------------------------------
  // The interface, inside a shadow root: the host page's CSS cannot reach in,
  // and every class is still prefixed for hosts that inspect or theme it.
  // ---------------------------------------------------------------------------
  const host = el("div", { id: PREFIX + "-root", className: PREFIX + "-host" });
  const root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  const stylesheet = el("link", { rel: "stylesheet", href: new URL("widget.css", config.assetBase).href });

  const panelId = PREFIX + "-panel";
  const logId = PREFIX + "-log";
  const inputId = PREFIX + "-input";

  const badge = el("span", { className: cls("badge"), "aria-hidden": "true", hidden: true });
  const launcherIcon = el("span", { className: cls("launcher-icon"), "aria-hidden": "true" });
  const launcher = el(
    "button",
    {
      type: "button",
      className: cls("launcher"),
      "aria-expanded": "false",
      "aria-controls": panelId,
      "aria-label": "Open chat with " + config.botName,
    },
    [launcherIcon, badge],
  );

  const status = el("div", { className: cls("status"), role: "status", "aria-live": "polite" });
  const closeButton = el("button", { type: "button", className: cls("close"), "aria-label": "Close chat" }, [
    el("span", { "aria-hidden": "true", text: "×" }),
  ]);
  const header = el("div", { className: cls("header") }, [
    el("div", { className: cls("avatar"), "aria-hidden": "true", text: config.botName.charAt(0) }),
    el("div", { className: cls("titles") }, [
      el("h2", { className: cls("title"), id: PREFIX + "-title", text: config.title }),
      el("p", { className: cls("subtitle"), text: config.subtitle }),
    ]),
    closeButton,
  ]);
  const log = el("div", {
    className: cls("log"),
    id: logId,
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  const typing = el("div", { className: cls("typing"), hidden: true }, [
    el("span", { className: cls("sr-only"), text: config.botName + " is typing" }),
    el("span", { className: cls("dot"), "aria-hidden": "true" }),
    el("span", { className: cls("dot"), "aria-hidden": "true" }),
    el("span", { className: cls("dot"), "aria-hidden": "true" }),
  ]);
  const input = el("textarea", {
    id: inputId,
    className: cls("input"),
    rows: "1",
    maxlength: String(MAX_CHARS),
    placeholder: "Type your message…",
    "aria-label": "Message to " + config.botName,
    autocomplete: "off",
  });
  const counter = el("span", { className: cls("counter"), "aria-live": "polite", hidden: true });
  const sendButton = el("button", { type: "submit", className: cls("send"), "aria-label": "Send message" }, [
    el("span", { className: cls("send-icon"), "aria-hidden": "true" }),
  ]);
  const form = el("form", { className: cls("composer"), novalidate: true }, [input, sendButton, counter]);
  const panel = el(
    "div",
    {
      id: panelId,
      className: cls("panel"),
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": PREFIX + "-title",
      hidden: true,
    },
    [header, status, log, typing, form],
  );
  const frame = el("div", { className: PREFIX }, [panel, launcher]);
  root.appendChild(stylesheet);
  root.appendChild(frame);

  // ---------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------
  let socket = null;
  let ready = false; // session confirmed on the current connection
  let historyTimer = null;
  let typingTimer = null;
  let awaitingReply = false;
  let unread = 0;
  let lastSeen = Number(store.get("seen")) || 0; // newest server timestamp the customer has seen
  let historyNewest = 0;
  let liveSinceHistory = false;
  let lastSentAt = 0;
  let agentName = null; // the person from support who has the conversation, if one does
  // At-least-once delivery: every message waits here, with its id, until the server acknowledges
  // it; one at a time, in order; after a reconnect the rest is sent again with the same ids (the
  // server handles an id once). {id, payload, title, failed, item}.
  const outbox = outboxStore.load();
  let inFlight = null; // the entry sent on this connection whose acknowledgement is awaited
  let connection = 0; // counts connections: an acknowledgement callback of an earlier one is ignored
  const shownIds = new Set(); // ids of the customer's messages in the log (own, other tabs', history)
  const answeredIds = new Set(); // ids whose answer was shown live since the history

  // ---------------------------------------------------------------------------
  // Messages
  // ---------------------------------------------------------------------------
  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function removeQuickReplies() {
    for (const group of log.querySelectorAll("." + cls("replies"))) group.remove();
  }

  /** A link button ("Open the article"): an <a> to an http(s) URL, never a message sent. */
  function linkReply(reply) {
    const href = safeHref(String(reply.url || ""));
    if (!href || !/^https?:/.test(href)) return null; // javascript:, data:, mailto:... are not links here
    const link = el("a", {
      href,
      target: "_blank",
      rel: "noopener noreferrer",
      className: cls("reply") + " " + cls("reply--link"),
    });
    link.textContent = String(reply.title || href);
    return link;
  }

  function isLinkReply(reply) {
    return reply.content_type === "web_url" || reply.type === "web_url" || (!!reply.url && !reply.payload);
  }

  function quickReplies(replies) {
    const group = el("div", { className: cls("replies"), role: "group", "aria-label": "Suggested replies" });
    for (const reply of replies) {
      if (!reply || typeof reply !== "object") continue;
      if (isLinkReply(reply)) {
        const link = linkReply(reply);
        if (link) group.appendChild(link);
        continue; // a link with a bad scheme is dropped, never sent as a message
      }
      const title = String(reply.title || reply.payload || "");
      const payload = String(reply.payload || reply.title || "");
      if (!title || !payload) continue;
      const button = el("button", { type: "button", className: cls("reply") });
      button.textContent = title;
      button.addEventListener("click", () => send(payload, title));
      group.appendChild(button);
    }
    return group.childElementCount ? group : null;
  }

  function attachmentNode(attachment) {
    const payload = (attachment && attachment.payload) || {};
    const href = safeHref(String(payload.src || payload.url || (typeof attachment === "string" ? attachment : "")));
    if (!href) return null;
    if (attachment.type === "image" && href.startsWith("http")) {
      return el("img", { src: href, alt: String(payload.title || "Image from " + config.botName), className: cls("image") });
    }
    const link = el("a", { href, target: "_blank", rel: "noopener noreferrer", className: cls("link") });
    link.textContent = String(payload.title || href);
    return link;
  }

  /** One message in the log. sender: "bot" | "user" | "notice"; agent: the person who wrote a bot message. */
  function addMessage({ sender, text, quickReplies: replies, attachment, proactive, welcome, agent }) {
    const who =
      sender === "user" ? "You" : agent ? agent + " from support" : sender === "bot" ? config.botName : "Notice";
    const bubble = el("div", { className: cls("bubble") });
    if (text) bubble.appendChild(richText(text));
    const media = attachment ? attachmentNode(attachment) : null;
    if (media) bubble.appendChild(media);
    if (!bubble.childNodes.length) return null;
    const item = el(
      "div",
      {
        className: [
          cls("message"),
          cls("message--" + sender),
          proactive ? cls("message--proactive") : "",
          welcome ? cls("message--welcome") : "",
          agent ? cls("message--agent") : "",
        ].join(" "),
      },
      [el("span", { className: cls("sr-only"), text: who + ": " })],
    );
    if (proactive) item.appendChild(el("span", { className: cls("tag"), text: config.botName + " reached out" }));
    if (agent) item.appendChild(el("span", { className: cls("author"), text: agent + " · support" }));
    item.appendChild(bubble);
    if (replies && replies.length) {
      const group = quickReplies(replies);
      if (group) item.appendChild(group);
    }
    log.appendChild(item);
    scrollToEnd();
    return item;
  }

  function setTyping(on) {
    awaitingReply = on;
    if (agentName) on = false; // a person answers at their own pace: no "typing" promise
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => setTyping(false), TYPING_TIMEOUT_MS);
    if (on) scrollToEnd();
  }

  function updateBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    launcher.setAttribute(
      "aria-label",
      "Open chat with " + config.botName + (unread ? ` (${unread} unread message${unread === 1 ? "" : "s"})` : ""),
    );
  }

  function markSeen(timestamp) {
    if (typeof timestamp === "number" && timestamp > lastSeen) {
      lastSeen = timestamp;
      store.set("seen", String(lastSeen));
    }
  }

  function isOpen() {
    return !panel.hidden;
  }

  function renderHistory(messages) {
    log.textContent = "";
    liveSinceHistory = false;
    historyNewest = 0;
    let waiting = 0;
    const lastUser = messages.map((m) => m.sender).lastIndexOf("user");
    agentName = null;
    messages.forEach((message, index) => {
      const sender = message.sender === "user" ? "user" : "bot";
      if (message.agent && showAgentEvent(message.agent, message.text)) return;
      addMessage({
        agent: message.agent ? message.agent.name : null,
        sender,
        text: message.text,
        // Buttons belong to the bot's latest turn; older ones were answered already.
        quickReplies: index > lastUser ? message.quick_replies : null,
        proactive: Boolean(message.proactive),
      });
      const ts = Number(message.timestamp) || 0;
      historyNewest = Math.max(historyNewest, ts);
      // Unread: newer than anything seen here before; on a first visit, the proactive
      // messages that waited since the customer last wrote.
      if (sender === "bot" && (lastSeen ? ts > lastSeen : message.proactive && index > lastUser)) waiting += 1;
    });
    if (!messages.length) addMessage({ sender: "bot", text: config.welcome, welcome: true });
    // What the history holds was received: not sent again, not shown twice.
    shownIds.clear();
    answeredIds.clear();
    for (const message of messages) if (typeof message.message_id === "string") shownIds.add(message.message_id);
    for (const entry of outbox.slice()) {
      if (shownIds.has(entry.id)) delivered(entry);
      else showPending(entry);
    }
    if (isOpen()) markSeen(historyNewest);
    else {
      unread = waiting;
      updateBadge();
    }
  }

  /** "Ana from support joined" / "Ana left": a line in the log; true if it was one. */
  function showAgentEvent(agent, text) {
    const name = typeof agent.name === "string" ? agent.name : "";
    if (agent.event !== "joined" && agent.event !== "left") return false;
    agentName = agent.event === "joined" ? name : null;
    frame.dataset.agent = agentName || "";
    addMessage({ sender: "notice", text: typeof text === "string" ? text : name + " from support joined" });
    return true;
  }

  function onBotMessage(data) {
    if (!data || typeof data !== "object") return;
    if (typeof data.reply_to === "string") {
      // The recorded answer to a message sent again: only if this page has not shown it yet.
      if (data.replayed && answeredIds.has(data.reply_to)) return;
      answeredIds.add(data.reply_to);
      const entry = outbox.find((e) => e.id === data.reply_to);
      if (entry) setNote(entry, null); // answered; it leaves the outbox with the acknowledgement
    }
    const agent = data.agent && typeof data.agent === "object" ? data.agent : null;
    if (agent && showAgentEvent(agent, data.text)) {
      setTyping(false);
      liveSinceHistory = true;
      return;
    }
    let replies = null;
    if (Array.isArray(data.quick_replies)) replies = data.quick_replies;
    else if (Array.isArray(data.buttons)) replies = data.buttons;
    // Nothing asked from this page lately: the scheduler (or a person) reached out.
    const proactive = !agent && !awaitingReply && Date.now() - lastSentAt > PROACTIVE_AFTER_MS;
    setTyping(false);
    const item = addMessage({
      sender: "bot",
      agent: agent && typeof agent.name === "string" ? agent.name : null,
      text: typeof data.text === "string" ? data.text : "",
      quickReplies: replies,
      attachment: data.attachment,
      proactive,
    });
    if (!item) return;
    liveSinceHistory = true;
    if (!isOpen()) {
      unread += 1;
      updateBadge();
    }
  }

  // ---------------------------------------------------------------------------
  // Sending: every message goes into the outbox with a fresh id and is shown at once, with its
  // state under the bubble ("Waiting for connection…", "Sending…", "Not sent"). Entries are sent
  // one at a time, in order, on a confirmed connection (after its history); each leaves the outbox
  // when the server acknowledges it. A connection lost before the acknowledgement sends it again,
  // with the same id, after the next history unless that history already holds it.
  // ---------------------------------------------------------------------------
  function online() {
    return ready && socket && socket.connected;
  }

  /** The state line under a message of the customer's: waiting | sending | failed | null (none). */
  function setNote(entry, state, text) {
    if (!entry.item) return;
    for (const old of entry.item.querySelectorAll("." + cls("pending") + ", ." + cls("failed"))) old.remove();
    if (state === "waiting" || state === "sending") {
      const words = state === "waiting" ? "Waiting for connection…" : "Sending…";
      entry.item.appendChild(el("span", { className: cls("pending"), text: words }));
    } else if (state === "failed") {
      const retry = entry.failed ? el("button", { type: "button", className: cls("retry"), text: "Retry" }) : null;
      if (retry) retry.addEventListener("click", () => retrySend(entry));
      const note = el("span", { className: cls("failed"), role: "alert" }, [text || "Not sent."]);
      if (retry) note.appendChild(retry);
      entry.item.appendChild(note);
    }
  }

  function showPending(entry) {
    entry.item = addMessage({ sender: "user", text: entry.title });
    shownIds.add(entry.id);
    if (entry.failed) setNote(entry, "failed", "Not sent.");
    else setNote(entry, online() ? "sending" : "waiting");
  }

  function delivered(entry) {
    const index = outbox.indexOf(entry);
    if (index >= 0) outbox.splice(index, 1);
    outboxStore.save(outbox);
    setNote(entry, null);
  }

  function markFailed(entry, text, canRetry) {
    if (canRetry) {
      entry.failed = true;
      outboxStore.save(outbox);
    } else {
      delivered(entry); // sending it again cannot help: out of the outbox
    }
    setNote(entry, "failed", text);
    setTyping(false);
  }

  function retrySend(entry) {
    entry.failed = false;
    outboxStore.save(outbox);
    setNote(entry, online() ? "sending" : "waiting");
    sendNext();
  }

  function onAck(entry, ack) {
    const status = ack && typeof ack === "object" ? ack.status : null;
    if (status === "refused") {
      const why =
        ack.code === "message_id_reused" ? "Not sent: please type it again." : "Not sent: " + String(ack.text || "");
      markFailed(entry, why, false);
    } else if (status === "failed") {
      markFailed(entry, "Not sent.", true);
    } else if (status === "reauth_required") {
      /* kept: sent again once the host page gave a fresh token (see reauth_required) */
    } else {
      delivered(entry); // handled now or earlier (an older server acknowledges with nothing)
    }
  }

  function sendNext() {
    clearTimeout(historyTimer);
    if (!online() || inFlight) return;
    const entry = outbox.find((e) => !e.failed);
    if (!entry) return;
    inFlight = entry;
    const sentOn = connection;
    lastSentAt = Date.now();
    setNote(entry, answeredIds.has(entry.id) ? null : "sending");
    setTyping(true);
    const data = { message: entry.payload, message_id: entry.id };
    socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", data, (error, ack) => {
      if (sentOn !== connection || inFlight !== entry) return; // that connection is gone: sent again after the next
      inFlight = null;
      if (error) markFailed(entry, "Not sent: no answer from the chat.", true);
      else onAck(entry, ack);
      sendNext();
    });
  }

  function send(payload, title) {
    const text = String(payload || "");
    if (!text.trim()) return false;
    if (text.length > MAX_CHARS) {
      addMessage({ sender: "notice", text: `That message is too long (at most ${MAX_CHARS} characters).` });
      return false;
    }
    removeQuickReplies();
    const entry = { id: newMessageId(), payload: text, title: title || text, failed: false, item: null };
    outbox.push(entry);
    outboxStore.save(outbox);
    showPending(entry);
    sendNext();
    return true;
  }

  // ---------------------------------------------------------------------------
  // Connection
  // ---------------------------------------------------------------------------
  /** state: connecting | online | reconnecting | offline; on the frame as data-state for hosts and tests. */
  function setState(state, text) {
    frame.dataset.state = state;
    status.textContent = text || "";
  }

  function auth(callback) {
    const done = (token) => {
      const data = {};
      if (typeof token === "string" && token) data.customer_token = token;
      const session = store.get("session");
      if (session) data.session = session;
      callback(data);
    };
    if (!config.getCustomerToken) return done(null);
    Promise.resolve()
      .then(() => config.getCustomerToken())
      .then(done, (error) => {
        console.warn("LumenChat: getCustomerToken failed; chatting as a guest", error);
        done(null);
      });
  }

  function socketOptions() {
    const target = new URL(config.rasaUrl, window.location.href);
    // A path in rasaUrl (Rasa behind a proxy at /rasa) belongs to the socket.io path,
    // not to the namespace (socket.io reads a URL's path as the namespace).
    const base = target.pathname.replace(/\/+$/, "");
    return {
      origin: target.origin,
      options: {
        path: config.socketPath || base + "/socket.io",
        transports: ["websocket", "polling"],
        auth,
        reconnectionDelay: 1000,
        reconnectionDelayMax: 8000,
      },
    };
  }

  // A verified connection lasts as long as its token (bot/channels/socketio.py): a minute
  // before it expires, and whenever the server asks (reauth_required), the widget asks the
  // host page for a fresh token and sends it as `refresh`. No token (the customer signed
  // out) or another customer's: the server ends the verified connection and the widget
  // reconnects as a guest.
  let refreshTimer = null;

  function scheduleRefresh(expiresAt) {
    clearTimeout(refreshTimer);
    if (typeof expiresAt !== "number") return;
    // A minute before expiry; for a token shorter-lived than two minutes, halfway through.
    const remaining = expiresAt * 1000 - Date.now();
    const delay = remaining > 2 * REFRESH_BEFORE_MS ? remaining - REFRESH_BEFORE_MS : remaining / 2;
    refreshTimer = setTimeout(refreshToken, Math.min(Math.max(delay, 1000), 2147483647));
  }

  function refreshToken() {
    clearTimeout(refreshTimer);
    const fail = () => {
      addMessage({ sender: "notice", text: "You are signed out, so I can only give general help now." });
      window.LumenChat.restart();
    };
    if (!config.getCustomerToken || !socket) return fail();
    Promise.resolve()
      .then(() => config.getCustomerToken())
      .then(
        (token) => {
          if (typeof token === "string" && token && socket && socket.connected) socket.emit("refresh", { customer_token: token });
          else fail();
        },
        () => fail(),
      );
  }

  function connect() {
    const { origin, options } = socketOptions();
    socket = window.io(origin, options);
    setState("connecting", "Connecting…");

    socket.on("connect", () => {
      ready = false;
      socket.emit("session_request", {});
    });

    socket.on("session_confirm", (data) => {
      data = data || {};
      ready = true;
      setState("online");
      if (!data.verified && typeof data.session_id === "string" && data.session_id) store.set("session", data.session_id);
      if (data.verified) scheduleRefresh(data.expires_at);
      else clearTimeout(refreshTimer);
      if (data.token_problem === "expired") {
        addMessage({
          sender: "notice",
          text: "Your sign-in has expired, so I can only give general help. Reload the page to sign in again.",
        });
      } else if (data.token_problem) {
        addMessage({ sender: "notice", text: "I couldn't confirm your sign-in, so I can only give general help." });
      }
      // history follows; waiting messages go after it (it may show some of them were received).
      clearTimeout(historyTimer);
      historyTimer = setTimeout(sendNext, HISTORY_WAIT_MS);
    });

    socket.on("history", (data) => {
      const messages = data && Array.isArray(data.messages) ? data.messages : [];
      renderHistory(messages);
      clearTimeout(historyTimer);
      sendNext();
    });

    socket.on("bot_uttered", onBotMessage);

    socket.on("reauth_required", (data) => {
      // The message was not handled (the sign-in expired): it stays in the outbox and is sent
      // again, with its id, after the refresh.
      ready = false;
      setTyping(false);
      const id = data && typeof data.message_id === "string" ? data.message_id : null;
      if (data && typeof data.message === "string" && !outbox.some((e) => e.id === id)) {
        outbox.unshift({ id: id || newMessageId(), payload: data.message, title: data.message, failed: false, item: null });
        outboxStore.save(outbox);
      }
      refreshToken();
    });

    socket.on("refresh_result", (data) => {
      if (data && data.ok) {
        scheduleRefresh(data.expires_at);
        if (!ready) socket.emit("session_request", {});
      }
      // Not ok: the server ends the verified connection; "disconnect" then reconnects as a guest.
    });

    socket.on("user_echo", (data) => {
      if (data && typeof data.text === "string") {
        const id = typeof data.message_id === "string" ? data.message_id : null;
        if (id && shownIds.has(id)) return; // sent again by the other tab: shown already
        if (id) shownIds.add(id);
        removeQuickReplies();
        addMessage({ sender: "user", text: data.text });
      }
    });

    socket.on("error_message", (data) => {
      // A problem with one of this page's messages comes with its acknowledgement, shown on its bubble.
      if (data && typeof data.message_id === "string" && outbox.some((e) => e.id === data.message_id)) return;
      setTyping(false);
      const text = data && typeof data.text === "string" ? data.text : "Sorry, something went wrong.";
      addMessage({ sender: "notice", text });
    });

    socket.on("disconnect", (reason) => {
      ready = false;
      connection += 1;
      inFlight = null; // not acknowledged: sent again, with its id, on the next connection
      for (const entry of outbox) if (!entry.failed) setNote(entry, "waiting");
      setTyping(false);
      clearTimeout(refreshTimer);
      if (reason === "io client disconnect") return;
      if (reason === "io server disconnect") {
        // The server ended a verified connection (signed out, or another customer's token):
        // reconnect with whatever the host page vouches for now, a guest if nothing.
        log.textContent = "";
        socket.connect();
        return;
      }
      setState("reconnecting", "Connection lost. Reconnecting…");
    });

    socket.io.on("reconnect_attempt", () => setState("reconnecting", "Reconnecting…"));

    socket.on("connect_error", () => {
      if (socket.active) setState("reconnecting", "Can't reach the chat right now. Reconnecting…");
      else {
        // refused by the server: try again later with fresh credentials
        setState("reconnecting", "Can't reach the chat right now. Retrying…");
        setTimeout(() => socket && !socket.connected && socket.connect(), 5000);
      }
    });
  }

  // ---------------------------------------------------------------------------
  // Opening and closing
  // ---------------------------------------------------------------------------
  function open({ focus = true } = {}) {
    panel.hidden = false;
    frame.classList.add(PREFIX + "--open");
    launcher.setAttribute("aria-expanded", "true");
    store.set("open", "1");
    unread = 0;
    updateBadge();
    // Live messages carry no server time; "now" stands for them (history gives real times).
    markSeen(liveSinceHistory ? Math.max(historyNewest, Date.now() / 1000) : historyNewest);
    scrollToEnd();
    if (focus) input.focus();
  }

  function close({ focus = true } = {}) {
    panel.hidden = true;
    frame.classList.remove(PREFIX + "--open");
    launcher.setAttribute("aria-expanded", "false");
    store.set("open", "0");
    if (focus) launcher.focus();
  }

  launcher.addEventListener("click", () => (isOpen() ? close() : open()));
  closeButton.addEventListener("click", () => close());
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (send(input.value)) {
      input.value = "";
      onInput();
    }
    input.focus();
  });

  function onInput() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
    const left = MAX_CHARS - input.value.length;
    counter.hidden = left > 200;
    counter.textContent = `${left} characters left`;
    sendButton.disabled = !input.value.trim();
  }

  input.addEventListener("input", onInput);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // ---------------------------------------------------------------------------
  // Start-up
  // ---------------------------------------------------------------------------
  function loadSocketIo() {
    if (typeof window.io === "function") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const tag = el("script", { src: new URL("vendor/socket.io.min.js", config.assetBase).href, async: true });
      tag.addEventListener("load", () => resolve());
      tag.addEventListener("error", () => reject(new Error("socket.io client could not be loaded")));
      document.head.appendChild(tag);
    });
  }

  function start() {
    document.body.appendChild(host);
    onInput();
    updateBadge();
    if (store.get("open") === "1") open({ focus: false });
    for (const entry of outbox) showPending(entry); // from before a reload: shown until the history replaces the log
    loadSocketIo().then(connect, (error) => {
      console.error("LumenChat:", error);
      setState("offline", "The chat could not be loaded. Please reload the page.");
    });
  }

  window.LumenChat = {
    version: VERSION,
    open: () => open(),
    close: () => close(),
    isOpen,
    /** Reconnect with fresh credentials (e.g. the visitor signed in or out); clears the shown conversation. */
    restart() {
      outbox.length = 0; // typed as somebody else: not sent as the new identity
      outboxStore.save(outbox);
      inFlight = null;
      connection += 1;
      ready = false;
      log.textContent = "";
      setTyping(false);
      unread = 0;
      updateBadge();
      if (socket) {
        socket.disconnect();
        socket.connect();
      }
    },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
