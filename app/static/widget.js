/*
 * Ava web chat widget. Embed with:
 *   <script src="https://ava.example.org/widget.js" data-org="riverside-clinic"
 *           data-token-url="/chat-token" async></script>
 * Optional: data-agent, data-server (default: where this script came from),
 * data-org-name (shown in the header), data-color (accent colour, CSS value),
 * data-voice="false" (no microphone button).
 *
 * Protocol: app/channels/web_chat.py. Every connection starts with "ready" carrying the
 * whole transcript; the widget renders from it, keyed by turn seq, so a reload or a
 * reconnect never loses or doubles a turn. Messages stay in an outbox (kept in
 * sessionStorage) until their reply has arrived and are re-sent with the same id after a
 * reconnect; the server stores each id once.
 *
 * Voice: the microphone button turns the chat into a call on the same socket (see the
 * "voice" section below); what is said either way is stored and shown as ordinary turns.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[data-org][src*="widget.js"]');
  if (!script || !script.dataset.org) {
    if (window.console) console.error("ava widget: the script tag needs data-org");
    return;
  }
  var ds = script.dataset;
  var org = ds.org;
  var agent = ds.agent || "";
  var tokenUrl = ds.tokenUrl || "";
  var server = (ds.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var orgName = ds.orgName || org.split(/[-_]/).map(function (w) {
    return w.charAt(0).toUpperCase() + w.slice(1);
  }).join(" ");
  var storeKey = "ava-widget:" + org + ":" + (agent || "default");
  var hostId = "ava-widget-" + org.replace(/[^a-z0-9_-]/gi, "");
  if (document.getElementById(hostId)) return; // the same widget embedded twice

  var MAX_LEN = 2000;
  var BACKOFF_MIN = 500, BACKOFF_MAX = 8000;
  var PING_EVERY = 25000, PONG_WITHIN = 10000;

  // ---------- storage (sessionStorage may be unavailable: private modes, sandboxed frames)
  function load(suffix, fallback) {
    try {
      var raw = window.sessionStorage.getItem(storeKey + suffix);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) { return fallback; }
  }
  function save(suffix, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(storeKey + suffix);
      else window.sessionStorage.setItem(storeKey + suffix, JSON.stringify(value));
    } catch (e) { /* storage full or blocked: the widget still works for this page */ }
  }

  // ---------- state
  var st = {
    session: load("", null),     // session token (resume); stored under storeKey itself
    conversationId: null,
    turns: {},                   // seq -> {seq, role, text, act}
    outbox: load(":outbox", []), // [{id, text, seq|null}] until the reply to it arrives
    draft: null,                 // {seq, text}: agent reply being streamed
    ended: false,
    outcome: null,
    typing: false,
    ws: null,
    ready: false,                // "ready" received on the current socket
    attempt: 0,
    refusals: 0,                 // resumes refused in a row while the server was up
    retryTimer: null,
    pingTimer: null,
    pongTimer: null,
    open: false,
    connecting: false,
    unread: false,
    noticeKind: "transient"
  };

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  // ---------- DOM
  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".root{--accent:" + (ds.color || "#1b5e9e") + ";--accent-dark:#134471;--ink:#1c2430;",
    "--muted:#5b6575;--line:#dfe3ea;--bg:#f6f8fb;font:15px/1.45 system-ui,-apple-system,",
    "'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:var(--ink);",
    "position:fixed;right:20px;bottom:20px;z-index:2147483000}",
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;",
    "clip:rect(0 0 0 0);white-space:nowrap;border:0}",
    "button{font:inherit;cursor:pointer}",
    ":focus-visible{outline:3px solid #f2b705;outline-offset:2px}",
    ".bubble{width:60px;height:60px;border-radius:50%;border:0;background:var(--accent);",
    "color:#fff;display:flex;align-items:center;justify-content:center;margin-left:auto;",
    "box-shadow:0 6px 18px rgba(20,40,80,.28);transition:transform .15s ease,background .15s}",
    ".bubble:hover{background:var(--accent-dark);transform:scale(1.05)}",
    ".bubble svg{width:28px;height:28px}",
    ".bubble .dot{position:absolute;top:2px;right:2px;width:14px;height:14px;border-radius:50%;",
    "background:#d93025;border:2px solid #fff;display:none}",
    ".bubble.unread .dot{display:block}",
    ".panel{position:absolute;right:0;bottom:76px;width:370px;height:560px;",
    "max-height:calc(100vh - 110px);background:#fff;border-radius:16px;display:flex;",
    "flex-direction:column;overflow:hidden;box-shadow:0 12px 40px rgba(20,40,80,.25);",
    "border:1px solid var(--line)}",
    ".panel[hidden]{display:none}",
    "header{background:var(--accent);color:#fff;padding:14px 12px 14px 16px;display:flex;",
    "align-items:center;gap:12px}",
    ".avatar{width:38px;height:38px;border-radius:50%;background:rgba(255,255,255,.2);",
    "display:flex;align-items:center;justify-content:center;font-weight:600;flex:none}",
    ".titles{flex:1;min-width:0}",
    "h2{margin:0;font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;",
    "text-overflow:ellipsis}",
    ".status{font-size:12.5px;opacity:.92;display:flex;align-items:center;gap:6px}",
    ".status::before{content:'';width:8px;height:8px;border-radius:50%;background:#f2b705}",
    ".status[data-state=online]::before{background:#4ade80}",
    ".status[data-state=ended]::before{background:#cbd5e1}",
    ".close{background:transparent;border:0;color:#fff;width:36px;height:36px;",
    "border-radius:8px;display:flex;align-items:center;justify-content:center}",
    ".close:hover{background:rgba(255,255,255,.15)}",
    ".close svg{width:20px;height:20px}",
    ".body{flex:1;overflow-y:auto;background:var(--bg);padding:16px 14px 8px}",
    "ol{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px}",
    ".msg{max-width:82%;padding:9px 13px;border-radius:16px;white-space:pre-wrap;",
    "overflow-wrap:anywhere}",
    ".msg[data-role=agent]{align-self:flex-start;background:#fff;border:1px solid var(--line);",
    "border-bottom-left-radius:4px}",
    ".msg[data-role=caller]{align-self:flex-end;background:var(--accent);color:#fff;",
    "border-bottom-right-radius:4px}",
    ".msg[data-pending=true]{opacity:.8}",
    ".draft{margin-top:8px;display:flex;flex-direction:column}",
    ".typing{display:flex;gap:4px;align-items:center;margin-top:8px;padding:12px 14px;",
    "width:max-content;background:#fff;border:1px solid var(--line);border-radius:16px;",
    "border-bottom-left-radius:4px}",
    ".typing[hidden]{display:none}",
    ".typing span{width:7px;height:7px;border-radius:50%;background:#8a94a6;",
    "animation:blink 1.2s infinite ease-in-out}",
    ".typing span:nth-child(2){animation-delay:.2s}.typing span:nth-child(3){animation-delay:.4s}",
    "@keyframes blink{0%,80%,100%{opacity:.3;transform:translateY(0)}",
    "40%{opacity:1;transform:translateY(-3px)}}",
    "@media (prefers-reduced-motion:reduce){.typing span{animation:none}.bubble{transition:none}",
    ".mic[data-state=live]::after{animation:none;opacity:.6}}",
    ".notice{font-size:13px;color:var(--muted);text-align:center;padding:6px 12px 0;",
    "min-height:0}",
    ".notice:empty{display:none}",
    ".notice button{background:none;border:0;color:var(--accent);text-decoration:underline;",
    "padding:0 2px}",
    "form{display:flex;gap:8px;align-items:flex-end;padding:10px 12px 12px;",
    "border-top:1px solid var(--line);background:#fff}",
    "textarea{flex:1;resize:none;font:inherit;color:var(--ink);border:1px solid #c4cad4;",
    "border-radius:12px;padding:9px 12px;max-height:120px;min-height:42px;line-height:1.4}",
    "textarea:focus{border-color:var(--accent);outline:2px solid var(--accent);",
    "outline-offset:-1px}",
    "textarea:disabled{background:#f1f3f6;color:var(--muted)}",
    ".send{width:42px;height:42px;flex:none;border:0;border-radius:50%;background:var(--accent);",
    "color:#fff;display:flex;align-items:center;justify-content:center}",
    ".send:disabled{background:#aab3c0;cursor:not-allowed}",
    ".send svg{width:20px;height:20px}",
    ".mic{width:42px;height:42px;flex:none;border:1px solid #c4cad4;border-radius:50%;",
    "background:#fff;color:var(--accent);display:flex;align-items:center;",
    "justify-content:center;position:relative}",
    ".mic[hidden]{display:none}",
    ".mic:hover{background:var(--bg)}",
    ".mic:disabled{color:#aab3c0;background:#fff;cursor:not-allowed}",
    ".mic svg{width:20px;height:20px}",
    ".mic[aria-pressed=true]{background:#c62828;border-color:#c62828;color:#fff}",
    ".mic[data-state=starting]{opacity:.7}",
    ".mic[data-state=live]::after{content:'';position:absolute;inset:-5px;border-radius:50%;",
    "border:2px solid #c62828;animation:ring 1.5s infinite ease-out}",
    "@keyframes ring{from{opacity:.9;transform:scale(.92)}to{opacity:0;transform:scale(1.2)}}",
    ".status[data-state=voice]::before{background:#ff8a80;",
    "box-shadow:0 0 0 3px rgba(255,138,128,.35)}",
    ".foot{font-size:11.5px;color:var(--muted);text-align:center;padding:0 0 8px;background:#fff}",
    "@media (max-width:480px){.root{right:12px;bottom:12px}",
    ".panel{position:fixed;inset:0;width:auto;height:auto;max-height:none;border-radius:0}}"
  ].join("");

  var ICON_CHAT = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">' +
    '<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1.1-4.6A8 8 0 1 1 21 12z"/></svg>';
  var ICON_DOWN = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.4" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">' +
    '<path d="M6 9l6 6 6-6"/></svg>';
  var ICON_CLOSE = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" ' +
    'stroke-linecap="round" aria-hidden="true" focusable="false">' +
    '<path d="M6 6l12 12M18 6L6 18"/></svg>';
  var ICON_SEND = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true" ' +
    'focusable="false"><path d="M3.4 20.4l17.45-7.48a1 1 0 0 0 0-1.84L3.4 3.6a.99.99 0 0 0-1.39.91' +
    'L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 ' +
    '1.39.91z"/></svg>';
  var ICON_MIC = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">' +
    '<rect x="9" y="2.5" width="6" height="12" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3.5"/>' +
    '</svg>';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "html") node.innerHTML = attrs[k]; // only our own constant icons
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  var host = el("div", { id: hostId });
  var shadow = host.attachShadow({ mode: "open" });
  var panelId = "ava-panel", inputId = "ava-input", titleId = "ava-title";

  var bubble = el("button", {
    type: "button", "class": "bubble", "data-testid": "ava-bubble", "aria-label": "Open chat",
    "aria-expanded": "false", "aria-controls": panelId,
    html: ICON_CHAT + '<span class="dot"></span>'
  });
  var titleEl = el("h2", { id: titleId, text: orgName });
  var statusEl = el("div", { "class": "status", "data-testid": "ava-status", "data-state": "idle",
                             text: "Virtual assistant" });
  var closeBtn = el("button", { type: "button", "class": "close", "aria-label": "Close chat",
                                "data-testid": "ava-close", html: ICON_CLOSE });
  var header = el("header", {}, [
    el("div", { "class": "avatar", "aria-hidden": "true", text: orgName.charAt(0) }),
    el("div", { "class": "titles" }, [titleEl, statusEl]),
    closeBtn
  ]);
  var list = el("ol", { "data-testid": "ava-transcript", "aria-live": "polite",
                        "aria-relevant": "additions", "aria-label": "Conversation" });
  var draftBox = el("div", { "class": "draft", "aria-hidden": "true" });
  var typingEl = el("div", { "class": "typing", "data-testid": "ava-typing", hidden: "",
                             "aria-hidden": "true" },
                    [el("span"), el("span"), el("span")]);
  var typingSr = el("div", { "class": "sr", role: "status" });
  var body = el("div", { "class": "body" }, [list, draftBox, typingEl, typingSr]);
  var notice = el("div", { "class": "notice", role: "status", "data-testid": "ava-notice" });
  var input = el("textarea", {
    id: inputId, rows: "1", maxlength: String(MAX_LEN), "data-testid": "ava-input",
    placeholder: "Type your message…", autocomplete: "off", enterkeyhint: "send"
  });
  var sendBtn = el("button", { type: "submit", "class": "send", "aria-label": "Send message",
                               "data-testid": "ava-send", html: ICON_SEND });
  var micBtn = el("button", { type: "button", "class": "mic", "aria-label": "Start voice",
                              "aria-pressed": "false", "data-state": "off",
                              "data-testid": "ava-mic", html: ICON_MIC });
  var form = el("form", { "aria-label": "Send a message" }, [
    el("label", { "for": inputId, "class": "sr", text: "Your message" }), input, micBtn, sendBtn
  ]);
  var foot = el("div", { "class": "foot",
                         text: "Automated assistant · Enter to send, Esc to close" });
  var panel = el("div", {
    id: panelId, "class": "panel", role: "dialog", "aria-label": "Chat with " + orgName,
    "data-testid": "ava-panel", hidden: ""
  }, [header, body, notice, form, foot]);
  var root = el("div", { "class": "root" }, [panel, bubble]);

  var style = document.createElement("style");
  style.textContent = CSS;
  shadow.appendChild(style);
  shadow.appendChild(root);

  // ---------- rendering
  var nodes = {}; // key -> <li>; key is "t<seq>" for stored/acked turns, "o<id>" for unacked

  function itemsToShow() {
    var seqs = Object.keys(st.turns).map(Number).sort(function (a, b) { return a - b; });
    var items = seqs.map(function (s) {
      var t = st.turns[s];
      return { key: "t" + s, seq: s, role: t.role, text: t.text, act: t.act, pending: false };
    });
    st.outbox.forEach(function (m) {
      if (m.seq !== null && m.seq !== undefined && st.turns[m.seq]) return;
      if (m.stored && st.turns[m.stored]) return; // shown as that stored turn
      var acked = m.seq !== null && m.seq !== undefined;
      items.push({ key: acked ? "t" + m.seq : "o" + m.id, seq: acked ? m.seq : null,
                   role: "caller", text: m.text, act: null, pending: !acked });
    });
    return items;
  }

  function messageNode(item) {
    var li = el("li", { "class": "msg", "data-testid": "ava-message", "data-role": item.role });
    li.appendChild(el("span", { "class": "sr", text: item.role === "agent" ? "Ava: " : "You: " }));
    li.appendChild(el("span", { "class": "text", "data-testid": "ava-message-text" }));
    return li;
  }

  function fill(li, item) {
    if (item.seq !== null) li.setAttribute("data-seq", String(item.seq));
    else li.removeAttribute("data-seq");
    li.setAttribute("data-role", item.role);
    li.setAttribute("data-pending", item.pending ? "true" : "false");
    if (item.act) li.setAttribute("data-act", item.act); else li.removeAttribute("data-act");
    var textEl = li.lastChild;
    if (textEl.textContent !== item.text) textEl.textContent = item.text;
  }

  function render() {
    var nearBottom = body.scrollHeight - body.scrollTop - body.clientHeight < 80;
    var items = itemsToShow();
    var keep = {};
    var cursor = list.firstChild;
    items.forEach(function (item) {
      keep[item.key] = true;
      var li = nodes[item.key];
      if (!li) { li = messageNode(item); nodes[item.key] = li; }
      fill(li, item);
      if (li !== cursor) list.insertBefore(li, cursor);
      else cursor = cursor.nextSibling;
    });
    Object.keys(nodes).forEach(function (k) {
      if (!keep[k]) { if (nodes[k].parentNode) list.removeChild(nodes[k]); delete nodes[k]; }
    });
    renderDraft();
    typingEl.hidden = !(st.typing && !st.draft);
    if (nearBottom || items.length <= 1) body.scrollTop = body.scrollHeight;
  }

  function renderDraft() {
    var draft = st.draft && !st.turns[st.draft.seq] ? st.draft : null;
    if (!draft) { draftBox.textContent = ""; return; }
    var li = draftBox.firstChild;
    if (!li) {
      li = messageNode({ role: "agent" });
      li.setAttribute("data-testid", "ava-draft");
      draftBox.appendChild(li);
    }
    fill(li, { seq: draft.seq, role: "agent", text: draft.text, act: null, pending: true });
  }

  function setStatus(state, text) {
    if (state === "online" && voice && voice.state === "live") {
      state = "voice"; text = "Listening…";
    }
    statusEl.setAttribute("data-state", state);
    statusEl.textContent = text;
  }

  // kind "transient" (connection trouble) is cleared by the next "ready"; "info" stays;
  // "voice" (the call's state) is cleared when voice stops
  function setNotice(text, action, kind) {
    st.noticeKind = kind || "transient";
    var nearBottom = body.scrollHeight - body.scrollTop - body.clientHeight < 80;
    notice.textContent = text || "";
    if (action) {
      var b = el("button", { type: "button", "data-testid": action.testid, text: action.label });
      b.addEventListener("click", action.run);
      notice.appendChild(document.createTextNode(" "));
      notice.appendChild(b);
    }
    if (nearBottom) body.scrollTop = body.scrollHeight; // the notice took room from the body
  }

  function updateControls() {
    input.disabled = st.ended;
    sendBtn.disabled = st.ended || !input.value.trim();
    micBtn.disabled = st.ended || (!st.ready && !voiceOn());
    input.placeholder = st.ended ? "This conversation has ended" : "Type your message…";
  }

  // ---------- outbox
  function saveOutbox() { save(":outbox", st.outbox.length ? st.outbox : null); }

  function sendFrame(frame) {
    if (!st.ws || st.ws.readyState !== WebSocket.OPEN || !st.ready) return false;
    st.ws.send(JSON.stringify(frame));
    return true;
  }

  function flushOutbox() {
    st.outbox.forEach(function (m) { sendFrame({ type: "message", id: m.id, text: m.text }); });
  }

  function lastKnownSeq() {
    var seqs = Object.keys(st.turns).map(Number);
    st.outbox.forEach(function (m) { if (m.seq) seqs.push(m.seq); });
    return seqs.reduce(function (a, b) { return Math.max(a, b); }, 0);
  }

  // After a reload or reconnect, a message sent but not acknowledged may already be stored
  // (the server acknowledges once its reply is made). The page is the only writer of caller
  // turns here and the server stores them in the order sent, so the caller turns after what
  // was known at sending match the unacknowledged messages in order: each is shown as its
  // stored turn instead of a second bubble. It is re-sent all the same (same id, stored
  // once), and the ack settles the match; a wrong match would only hide it until then.
  function matchStored() {
    var claimed = {};
    st.outbox.forEach(function (m) { if (m.seq) claimed[m.seq] = true; });
    var callerSeqs = Object.keys(st.turns).map(Number).filter(function (s) {
      return st.turns[s].role === "caller" && !claimed[s];
    }).sort(function (a, b) { return a - b; });
    var floor = 0;
    st.outbox.forEach(function (m) {
      delete m.stored;
      if (m.seq || typeof m.after !== "number") return;
      var found = callerSeqs.filter(function (s) { return s > m.after && s > floor; })[0];
      if (found) { m.stored = found; floor = found; }
    });
  }

  // An outbox entry is done once its turn is stored and an agent turn follows it.
  function pruneOutbox() {
    var seqs = Object.keys(st.turns).map(Number);
    var lastAgent = seqs.filter(function (s) { return st.turns[s].role === "agent"; })
      .reduce(function (a, b) { return Math.max(a, b); }, -1);
    st.outbox = st.outbox.filter(function (m) {
      return !(m.seq !== null && m.seq !== undefined && st.turns[m.seq] && lastAgent > m.seq);
    });
    if (st.ended) st.outbox = [];
    saveOutbox();
  }

  function submit() {
    var text = input.value.replace(/\s+$/, "").replace(/^\s+/, "");
    if (!text || st.ended) return;
    if (text.length > MAX_LEN) text = text.slice(0, MAX_LEN);
    var msg = { id: uuid(), text: text, seq: null, after: lastKnownSeq() };
    st.outbox.push(msg);
    saveOutbox();
    input.value = "";
    autoGrow();
    updateControls();
    render();
    body.scrollTop = body.scrollHeight;
    if (!sendFrame({ type: "message", id: msg.id, text: msg.text })) {
      if (st.attempt > 0) setNotice("Not connected; your message will be sent once it is back.");
      connect();
    }
  }

  // ---------- server frames
  var handlers = {
    ready: function (f) {
      if (st.conversationId && st.conversationId !== f.conversation_id) resetConversation(false);
      st.conversationId = f.conversation_id;
      panel.setAttribute("data-conversation-id", f.conversation_id);
      st.session = f.session;
      save("", f.session);
      st.turns = {};
      (f.turns || []).forEach(function (t) {
        st.turns[t.seq] = t;
        // a stored turn that names its client id settles that outbox entry at once
        st.outbox.forEach(function (m) { if (t.id && m.id === t.id) m.seq = t.seq; });
      });
      st.draft = null;
      st.typing = false;
      st.ended = !!f.ended;
      st.outcome = f.outcome || null;
      st.ready = true;
      st.attempt = 0;
      st.refusals = 0;
      matchStored();
      pruneOutbox();
      list.setAttribute("aria-busy", "true");
      render();
      list.removeAttribute("aria-busy");
      if (st.ended) showEnded();
      else {
        setStatus("online", "Online");
        if (st.noticeKind === "transient") setNotice("");
        flushOutbox();
      }
      updateControls();
    },
    ack: function (f) {
      st.outbox.forEach(function (m) {
        if (m.id !== f.id) return;
        var local = nodes["o" + m.id];
        if (local) {
          // keep the same <li>: it changes key from the client id to the stored seq, unless
          // the stored turn is already shown (a re-sent message after a reload)
          if (!nodes["t" + f.seq]) nodes["t" + f.seq] = local;
          else if (local.parentNode) local.parentNode.removeChild(local);
          delete nodes["o" + m.id];
        }
        m.seq = f.seq;
        delete m.stored;
      });
      saveOutbox();
      render();
    },
    typing: function (f) {
      st.typing = !!f.on;
      typingSr.textContent = f.on ? "Ava is typing" : "";
      render();
    },
    delta: function (f) {
      if (st.turns[f.seq]) return; // already final (a re-sent reply)
      if (!st.draft || st.draft.seq !== f.seq) st.draft = { seq: f.seq, text: "" };
      st.draft.text += f.text;
      render();
    },
    turn: function (f) {
      var t = f.turn;
      st.turns[t.seq] = t;
      if (st.draft && st.draft.seq === t.seq) st.draft = null;
      if (t.role === "agent") { st.typing = false; typingSr.textContent = ""; }
      pruneOutbox();
      render();
      if (t.role === "agent" && !st.open) { st.unread = true; bubble.classList.add("unread"); }
    },
    ended: function (f) {
      st.ended = true;
      st.outcome = f.outcome || null;
      st.typing = false;
      pruneOutbox();
      render();
      showEnded();
      updateControls();
    },
    error: function (f) {
      if (f.code === "ended") { handlers.ended({ outcome: st.outcome }); return; }
      if (f.code === "rate_limited") {
        setNotice("Sending too fast; retrying in a moment.");
        setTimeout(function () { setNotice(""); flushOutbox(); }, 1500);
        return;
      }
      if (f.code === "too_long" || f.code === "bad_request") {
        // the server refused the newest unacknowledged message: drop it, say so
        for (var i = st.outbox.length - 1; i >= 0; i--) {
          if (st.outbox[i].seq === null || st.outbox[i].seq === undefined) {
            st.outbox.splice(i, 1); break;
          }
        }
        saveOutbox();
        render();
        setNotice(f.code === "too_long" ? "That message is too long." :
                  "That message could not be sent.");
        return;
      }
      setNotice("Something went wrong on our side. Please try again.");
    },
    pong: function () { clearTimeout(st.pongTimer); },
    "voice.ready": function (f) {
      var v = voice;
      // not for this call: it was stopped while starting, and voice.stop is on its way
      if (!v || v.state !== "starting" || !v.asked) return;
      clearTimeout(v.timer);
      v.state = "live";
      v.agentRate = f.agent_sample_rate || v.agentRate;
      showVoice();
      setNotice("Listening: just speak. Press the microphone button to stop.", null, "voice");
    },
    "voice.clear": function () {
      if (voice) flushPlayback(voice); // the caller spoke over the agent
    },
    "voice.ended": function () {
      if (stopping) { stopSettled(); return; } // the call the visitor stopped
      var v = voice;
      if (!v) return;
      if (v.state === "goodbye") { stopVoice(null, { drain: true }); hangUp(); return; }
      stopVoice(st.ended ? null : "Voice has ended. You can keep typing.", { drain: true });
    }
  };

  // Over: nothing more will be said, so the socket is closed normally (1000), not retried.
  function hangUp() {
    var ws = st.ws;
    st.ws = null; st.ready = false;
    clearInterval(st.pingTimer); clearTimeout(st.pongTimer); clearTimeout(st.retryTimer);
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    stopSettled(); // a voice.stop in flight: its call went with the socket
  }

  function showEnded() {
    if (voice && voice.state === "live") hearGoodbye(voice);
    else { stopVoice(null, {}); hangUp(); }
    setStatus("ended", "Conversation ended");
    setNotice("This conversation has ended.", {
      label: "Start a new chat", testid: "ava-restart",
      run: function () { resetConversation(true); connect(); input.focus(); }
    }, "info");
  }

  function resetConversation(clearSession) {
    stopVoice(null, { tellServer: true });
    if (clearSession) {
      st.session = null; save("", null);
      hangUp();
    }
    st.conversationId = null;
    panel.removeAttribute("data-conversation-id");
    st.turns = {}; st.outbox = []; saveOutbox(); st.draft = null;
    st.ended = false; st.outcome = null; st.typing = false; st.ready = false;
    setNotice("");
    render();
    updateControls();
  }

  // ---------- connection
  function wsUrl(query) {
    return server.replace(/^http/, "ws") + "/ws/chat?" + query;
  }

  function fetchToken() {
    if (!tokenUrl) return Promise.reject(new Error("no data-token-url"));
    return fetch(tokenUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("token endpoint answered " + r.status);
        return r.json();
      })
      .then(function (j) {
        if (!j || typeof j.token !== "string") throw new Error("token endpoint gave no token");
        return j.token;
      });
  }

  function connect() {
    if (st.connecting || (st.ws && st.ws.readyState <= WebSocket.OPEN) || st.ended) return;
    clearTimeout(st.retryTimer);
    st.connecting = true;
    setStatus("idle", st.attempt ? "Reconnecting…" : "Connecting…");
    var url = st.session ? Promise.resolve(wsUrl("session=" + encodeURIComponent(st.session)))
      : fetchToken().then(function (t) { return wsUrl("token=" + encodeURIComponent(t)); });
    url.then(open, function () {
      st.connecting = false;
      setNotice("Chat is unavailable right now; trying again…");
      retry();
    });
  }

  function open(url) {
    var usedSession = !!st.session;
    var ws;
    try { ws = new WebSocket(url); } catch (e) { st.connecting = false; retry(); return; }
    st.ws = ws;
    st.ready = false;
    ws.binaryType = "arraybuffer"; // binary frames are the agent's speech
    ws.onopen = function () { st.connecting = false; heartbeat(); };
    ws.onmessage = function (ev) {
      if (ws !== st.ws) return;
      if (typeof ev.data !== "string") { playAudio(ev.data); return; }
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      var h = frame && handlers[frame.type];
      if (h) h(frame);
    };
    ws.onclose = function (ev) {
      if (ws !== st.ws) return;
      var gotReady = st.ready;
      st.ws = null; st.ready = false; st.connecting = false;
      clearInterval(st.pingTimer); clearTimeout(st.pongTimer);
      updateControls();
      // the server's voice session went with the socket: like a dropped call
      if (voice) stopVoice(voice.state === "goodbye" ? null :
        "Voice stopped: the connection dropped. Press the microphone to talk again.",
        { drain: voice.state === "goodbye" });
      stopSettled();
      if (st.ended) return;
      if (!gotReady && usedSession) { checkSession(); return; }
      if (ev.code === 1008) setNotice("Too many messages; reconnecting shortly.");
      retry();
    };
  }

  // A resume that failed before "ready": the server may be unreachable (keep the session and
  // retry) or it refused the session token, 401 before the upgrade (expired: start anew).
  // A browser does not tell a WebSocket's HTTP status, so the same URL is asked over plain
  // HTTP; where that answer is unreadable (another origin without CORS), only a server that
  // is up yet refuses the session several times in a row counts as a refusal.
  function checkSession() {
    var probe = server + "/ws/chat?session=" + encodeURIComponent(st.session);
    fetch(probe, { cache: "no-store", credentials: "omit" }).then(function (r) {
      if (r.status === 401) sessionExpired(); else retry();
    }, function () {
      fetch(server + "/healthz", { mode: "no-cors", cache: "no-store" }).then(function () {
        st.refusals += 1;
        if (st.refusals >= 4) sessionExpired(); else retry();
      }, retry);
    });
  }

  function sessionExpired() {
    resetConversation(true);
    if (st.open) {
      setNotice("Your previous chat has expired; a new one has started.", null, "info");
      retry();
    } // closed: the new conversation starts when the visitor opens the chat

  }

  function retry() {
    if (st.ended) return;
    var delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, st.attempt));
    st.attempt += 1;
    setStatus("idle", "Reconnecting…");
    clearTimeout(st.retryTimer);
    st.retryTimer = setTimeout(connect, delay);
  }

  function heartbeat() {
    clearInterval(st.pingTimer);
    st.pingTimer = setInterval(function () {
      if (!sendFrame({ type: "ping" })) return;
      clearTimeout(st.pongTimer);
      var ws = st.ws;
      st.pongTimer = setTimeout(function () {
        if (ws && ws === st.ws) ws.close(4000); // no pong: the connection is dead
      }, PONG_WITHIN);
    }, PING_EVERY);
  }

  window.addEventListener("online", function () {
    if (!st.ws && !st.ended && (st.open || st.session)) { st.attempt = 0; connect(); }
  });

  // ---------- voice
  // After {"type":"voice.start"} and the server's "voice.ready", the page streams the
  // microphone as binary frames of 20 ms, 16 kHz mono int16 PCM; the server streams the
  // agent's speech back as int16 PCM at agent_sample_rate, faster than real time, and the
  // page queues it back to back on an AudioContext. "voice.clear" (the caller spoke over the
  // agent) drops that queue at once; "voice.stop" / "voice.ended" end the call, not the chat.
  var VOICE_RATE = 16000;
  var FRAME_SAMPLES = 320;          // 20 ms at 16 kHz: 640 bytes a frame
  var MAX_UNSENT = 32000;           // bytes (1 s of audio) waiting in the socket: drop frames
  var VOICE_START_WITHIN = 90000;   // ms; the first start may load the speech models
  var GOODBYE_WITHIN = 40000;       // ms the socket stays open for the agent's last words
  var STOP_WITHIN = 10000;          // ms for the server to confirm a voice.stop
  var PLAY_LEAD = 0.05;             // s; after an underrun, playback restarts this far ahead
  var MIC_CONSTRAINTS = { audio: { echoCancellation: true, noiseSuppression: true,
                                   channelCount: 1 } };

  var AudioCtx = window.AudioContext || window.webkitAudioContext;
  var voiceSupported = ds.voice !== "false" && !!AudioCtx && !!window.WebSocket &&
    !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia); // https pages only

  // The call in progress, or null. state: "starting" (microphone, then the server),
  // "live", or "goodbye" (the conversation ended: the microphone is off and the agent's
  // last words still play).
  var voice = null;

  function voiceOn() { return !!voice && (voice.state === "starting" || voice.state === "live"); }

  // Audio at the context's rate (often 48 or 44.1 kHz) -> 20 ms int16 frames at 16 kHz.
  // Each output sample is the mean of the input samples it spans (2 or 3 of them at
  // 44.1 kHz): a box low-pass, crude but enough to keep the speech band free of most
  // aliasing for recognition. Self-contained on purpose: its source text is also the
  // AudioWorklet module's.
  function makeFramer(inRate, outRate, frameSamples) {
    var step = inRate / outRate;  // input samples per output sample, maybe fractional
    var left = step, sum = 0, count = 0;
    var frame = new Int16Array(frameSamples), filled = 0;
    return function push(input) {
      var frames = [];
      for (var i = 0; i < input.length; i++) {
        sum += input[i]; count += 1; left -= 1;
        if (left > 0) continue;
        var x = Math.max(-1, Math.min(1, sum / count));
        frame[filled++] = x < 0 ? x * 32768 : x * 32767;
        sum = 0; count = 0; left += step;
        if (filled === frameSamples) {
          frames.push(frame);
          frame = new Int16Array(frameSamples); filled = 0;
        }
      }
      return frames;
    };
  }

  // Runs on the audio thread; each finished frame's buffer is handed over, not copied.
  var WORKLET_SOURCE = "var makeFramer = " + makeFramer.toString() + ";\n" +
    "registerProcessor('ava-mic', class extends AudioWorkletProcessor {\n" +
    "  constructor(options) {\n" +
    "    super();\n" +
    "    var o = options.processorOptions;\n" +
    "    this.push = makeFramer(sampleRate, o.rate, o.frame);\n" +
    "  }\n" +
    "  process(inputs) {\n" +
    "    var channel = inputs[0] && inputs[0][0];\n" +
    "    if (channel) {\n" +
    "      var port = this.port;\n" +
    "      this.push(channel).forEach(function (f) {\n" +
    "        port.postMessage(f.buffer, [f.buffer]);\n" +
    "      });\n" +
    "    }\n" +
    "    return true;\n" +
    "  }\n" +
    "});\n";

  function micNode(ctx) {
    if (!ctx.audioWorklet || typeof AudioWorkletNode === "undefined") {
      return Promise.resolve(scriptNode(ctx));
    }
    var url = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: "text/javascript" }));
    return ctx.audioWorklet.addModule(url).then(function () {
      URL.revokeObjectURL(url);
      var node = new AudioWorkletNode(ctx, "ava-mic", {
        numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
        channelCount: 1, channelCountMode: "explicit", // a stereo microphone is mixed down
        processorOptions: { rate: VOICE_RATE, frame: FRAME_SAMPLES }
      });
      node.port.onmessage = function (ev) { sendAudio(ev.data); };
      return node;
    }, function () {
      URL.revokeObjectURL(url); // e.g. the host page's Content-Security-Policy refuses blob:
      return scriptNode(ctx);
    });
  }

  // The fallback: deprecated, and it runs on the page's main thread, but it is everywhere.
  function scriptNode(ctx) {
    var push = makeFramer(ctx.sampleRate, VOICE_RATE, FRAME_SAMPLES);
    var node = ctx.createScriptProcessor(2048, 1, 1);
    node.onaudioprocess = function (ev) {
      push(ev.inputBuffer.getChannelData(0)).forEach(function (f) { sendAudio(f.buffer); });
    };
    return node;
  }

  function startVoice() {
    if (voice || st.ended || !st.ready || !voiceSupported) return;
    // Created here, inside the click: browsers let a page start audio only from a gesture.
    var v = voice = { state: "starting", ctx: new AudioCtx(), stream: null, nodes: [],
                      asked: false, timer: null, agentRate: 22050, playAt: 0, playing: [] };
    var resumed = v.ctx.resume && v.ctx.resume();
    if (resumed && resumed.catch) resumed.catch(function () {});
    showVoice();
    setNotice("Starting voice…", null, "voice");
    navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS).then(function (stream) {
      v.stream = stream;
      return voice === v ? micNode(v.ctx) : null;
    }).then(function (node) {
      if (node) v.nodes.push(node);
      if (voice !== v) { release(v, false); return; } // stopped while the browser asked
      var source = v.ctx.createMediaStreamSource(v.stream);
      // A node is only run when it leads to the speakers; this path adds silence.
      var mute = v.ctx.createGain();
      mute.gain.value = 0;
      source.connect(node); node.connect(mute); mute.connect(v.ctx.destination);
      v.nodes.push(source, mute);
      afterStop(function () { askServer(v); });
    }).catch(function (err) {
      if (voice === v) stopVoice(micProblem(err), {});
      else release(v, false);
    });
  }

  function askServer(v) {
    if (voice !== v) return;
    if (!sendFrame({ type: "voice.start" })) {
      stopVoice("Voice could not start: the chat is not connected.", {});
      return;
    }
    v.asked = true;
    v.timer = setTimeout(function () {
      if (voice === v && v.state === "starting") {
        stopVoice("Voice is not available right now. You can keep typing.",
                  { tellServer: true });
      }
    }, VOICE_START_WITHIN);
  }

  // After a voice.stop the server still sends that call's voice.ready (if it was starting)
  // and voice.ended. A new call asks for its session only after them, so that every
  // voice.ready / voice.ended the page gets belongs to the call it has.
  var stopping = null; // {timer, waiting: [functions]} from voice.stop to its voice.ended

  function afterStop(run) {
    if (stopping) stopping.waiting.push(run);
    else run();
  }

  function stopSettled() {
    var s = stopping;
    if (!s) return;
    stopping = null;
    clearTimeout(s.timer);
    s.waiting.forEach(function (run) { run(); });
  }

  function micProblem(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError" ||
        name === "PermissionDeniedError") {
      return "Microphone access is blocked. Allow it in your browser's site settings to " +
        "talk; you can keep typing.";
    }
    if (name === "NotFoundError" || name === "DevicesNotFoundError" ||
        name === "OverconstrainedError") {
      return "No microphone was found. You can keep typing.";
    }
    if (name === "NotReadableError" || name === "AbortError") {
      return "The microphone could not be opened (is another app using it?). " +
        "You can keep typing.";
    }
    return "Voice could not start in this browser. You can keep typing.";
  }

  // Ends the call on the page. opts.tellServer: send voice.stop (the visitor stopped it);
  // opts.drain: let the agent's speech already received finish playing. `text`: a notice.
  function stopVoice(text, opts) {
    var v = voice;
    if (!v) return;
    voice = null;
    clearTimeout(v.timer);
    if (opts.tellServer && v.asked && sendFrame({ type: "voice.stop" })) {
      stopSettled();
      // a start that failed (an error, not voice.ready) is stopped without a voice.ended
      stopping = { timer: setTimeout(stopSettled, STOP_WITHIN), waiting: [] };
    }
    release(v, !!opts.drain);
    showVoice();
    if (text) setNotice(text, null, "info");
    else if (st.noticeKind === "voice") setNotice("");
  }

  // Stops the microphone's tracks (the browser's recording indicator goes off) and
  // the capture nodes.
  function muteMic(v) {
    if (v.stream) v.stream.getTracks().forEach(function (track) { track.stop(); });
    v.nodes.forEach(function (node) {
      node.disconnect();
      if (node.port) node.port.onmessage = null;
      if ("onaudioprocess" in node) node.onaudioprocess = null;
    });
    v.nodes = [];
  }

  // Frees the microphone and, once what is still to play has played (drain) or at once,
  // the AudioContext (it holds the audio device).
  function release(v, drain) {
    muteMic(v);
    var ctx = v.ctx;
    if (ctx.state === "closed" || !ctx.close) return;
    var close = function () { ctx.close().catch(function () { /* closed already */ }); };
    if (!drain) { flushPlayback(v); close(); return; }
    setTimeout(close, Math.max(0, v.playAt - ctx.currentTime) * 1000 + 200);
  }

  // The conversation ended while talking: the microphone goes off at once, but the agent's
  // goodbye is still to come as audio, so the socket stays open until "voice.ended".
  function hearGoodbye(v) {
    muteMic(v);
    v.state = "goodbye";
    clearTimeout(v.timer);
    v.timer = setTimeout(function () {
      if (voice === v) { stopVoice(null, { drain: true }); hangUp(); }
    }, GOODBYE_WITHIN);
    showVoice();
  }

  function sendAudio(buffer) {
    var ws = st.ws;
    var live = voice && voice.state === "live" && st.ready;
    // before "voice.ready" the server has nowhere to put audio: it would hang up
    if (!live || !ws || ws.readyState !== WebSocket.OPEN) return;
    // Late audio is useless and a burst after a stall trips the server's rate limit:
    // while the socket is backed up, frames are dropped rather than queued.
    if (ws.bufferedAmount > MAX_UNSENT) return;
    ws.send(buffer);
  }

  // A chunk of the agent's speech: queued to start where the previous chunk ends.
  function playAudio(data) {
    var v = voice;
    if (!v || (v.state !== "live" && v.state !== "goodbye")) return; // a stopped call's
    var pcm = new Int16Array(data, 0, data.byteLength >> 1); // LE, as every browser host is
    if (!pcm.length) return;
    var ctx = v.ctx;
    var buffer = ctx.createBuffer(1, pcm.length, v.agentRate); // resampled by the context
    var samples = buffer.getChannelData(0);
    for (var i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
    var node = ctx.createBufferSource();
    node.buffer = buffer;
    node.connect(ctx.destination);
    var now = ctx.currentTime;
    if (v.playAt < now) v.playAt = now + PLAY_LEAD; // queue ran dry: start a little ahead
    node.start(v.playAt);
    v.playAt += buffer.duration;
    v.playing.push(node);
    node.onended = function () {
      var at = v.playing.indexOf(node);
      if (at >= 0) v.playing.splice(at, 1);
      node.disconnect();
    };
  }

  function flushPlayback(v) {
    v.playing.forEach(function (node) {
      node.onended = null;
      try { node.stop(); } catch (e) { /* older engines throw once it has ended */ }
      node.disconnect();
    });
    v.playing = [];
    v.playAt = 0;
  }

  function showVoice() {
    var state = voice ? voice.state : "off";
    var on = voiceOn();
    micBtn.setAttribute("data-state", state);
    micBtn.setAttribute("aria-pressed", on ? "true" : "false");
    micBtn.setAttribute("aria-label", on ? "Stop voice" : "Start voice");
    micBtn.title = micBtn.getAttribute("aria-label"); // a tooltip that adds no second name
    if (st.ready && !st.ended) setStatus("online", "Online"); // "Listening…" while live
    updateControls();
  }

  // ---------- open / close, keyboard
  function setOpen(openNow, moveFocus) {
    st.open = openNow;
    save(":open", openNow ? true : null);
    panel.hidden = !openNow;
    bubble.setAttribute("aria-expanded", openNow ? "true" : "false");
    bubble.setAttribute("aria-label", openNow ? "Minimize chat" : "Open chat");
    bubble.innerHTML = (openNow ? ICON_DOWN : ICON_CHAT) + '<span class="dot"></span>';
    if (openNow) {
      st.unread = false;
      bubble.classList.remove("unread");
      connect();
      render();
      body.scrollTop = body.scrollHeight;
      if (moveFocus) (input.disabled ? closeBtn : input).focus();
    } else {
      // nobody sees the listening state any more: the microphone goes off
      if (voiceOn()) stopVoice(null, { tellServer: true });
      if (moveFocus) bubble.focus();
    }
  }

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }

  bubble.addEventListener("click", function () { setOpen(!st.open, true); });
  closeBtn.addEventListener("click", function () { setOpen(false, true); });
  root.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && st.open) {
      ev.preventDefault();
      ev.stopPropagation();
      setOpen(false, true);
    }
  });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submit(); }
  });
  input.addEventListener("input", function () { autoGrow(); updateControls(); });
  micBtn.addEventListener("click", function () {
    if (voiceOn()) stopVoice(null, { tellServer: true });
    else startVoice();
  });

  // ---------- start
  function start() {
    micBtn.hidden = !voiceSupported;
    document.body.appendChild(host);
    updateControls();
    render();
    // Resume at once after a reload (the conversation is already going); a first visit
    // connects only when the visitor opens the chat, so page views make no conversations.
    if (load(":open", null)) setOpen(true, false);
    else if (st.session) connect();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
