// The playground page: a small Slack client for this one app. It never
// talks to the bot itself: every action goes to the playground server,
// which sends the signed request Slack would send.
"use strict";

const app = {
  config: null, user: "", channel: "", home: false, state: null, version: -1,
  names: { users: {}, channels: {} }, seen: {}, poll: null, modalSig: "",
};

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => ({ ok: false, error: resp.status + " " + resp.statusText }));
  if (!resp.ok && data.ok === undefined) data.ok = false;
  return data;
}

async function init() {
  app.config = await api("/play/config");
  for (const u of app.config.users) app.names.users[u.id] = u.name;
  for (const c of app.config.channels) app.names.channels[c.id] = c.name;
  const params = new URLSearchParams(location.search);
  app.user = app.names.users[params.get("user")] ? params.get("user") : app.config.users[0].id;
  app.channel = app.config.channels[0].id;
  $("user").innerHTML = app.config.users.map((u) =>
    `<option value="${attr(u.id)}">${escapeHTML(u.name)} (${escapeHTML(u.roles.join(", ") || "no role")}) · ${escapeHTML(u.id)}</option>`).join("");
  $("user").value = app.user;
  $("user").addEventListener("change", () => switchUser($("user").value));
  $("composer").placeholder = `Type ${app.config.command} help`;
  $("composer-form").addEventListener("submit", sendCommand);
  $("home-tab").addEventListener("click", (e) => { e.preventDefault(); openHome(); });
  $("modal-form").addEventListener("submit", submitModal);
  $("modal-cancel").addEventListener("click", closeModal);
  $("bundle").addEventListener("click", () => runCommand(app.config.command + " bundle"));
  document.body.addEventListener("click", onButton);
  renderExamples();
  renderChannels();
  restartPoll();
  refreshLedger();
  setInterval(refreshLedger, 5000);
}

function renderExamples() {
  const c = app.config.command;
  const ex = [`${c} help`, `${c} status`, `${c} start alpha --mode paper`, `${c} start alpha --mode live --reason "market open"`, `${c} challenges`, `${c} stop alpha`];
  $("examples").innerHTML = ex.map((t) => `<li><a href="#" data-example="${attr(t)}">${escapeHTML(t)}</a></li>`).join("");
  $("examples").addEventListener("click", (e) => {
    const t = e.target.closest("[data-example]");
    if (!t) return;
    e.preventDefault();
    $("composer").value = t.dataset.example;
    $("composer").focus();
  });
}

function switchUser(id) {
  app.user = id;
  app.version = -1;
  app.modalSig = "";
  app.seen = {};
  history.replaceState(null, "", "?user=" + encodeURIComponent(id));
  restartPoll();
  if (app.home) openHome();
}

function restartPoll() {
  if (app.poll) app.poll.abort();
  const ctl = new AbortController();
  app.poll = ctl;
  (async () => {
    let after = -1;
    while (!ctl.signal.aborted) {
      try {
        const q = `/play/state?user=${encodeURIComponent(app.user)}` + (after >= 0 ? `&after=${after}` : "");
        const resp = await fetch(q, { signal: ctl.signal });
        const st = await resp.json();
        if (ctl.signal.aborted) return;
        after = st.version;
        applyState(st);
      } catch (e) {
        if (ctl.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
}

function applyState(st) {
  app.state = st;
  app.version = st.version;
  renderChannels();
  if (app.home) renderHome(); else renderTimeline();
  renderModal();
  refreshLedger();
}

function itemsOf(channel) {
  return (app.state ? app.state.items : []).filter((it) => it.channel === channel);
}

function renderChannels() {
  const cur = app.home ? "" : app.channel;
  $("channels").innerHTML = app.config.channels.map((c) => {
    const items = itemsOf(c.id);
    const last = items.length ? items[items.length - 1].seq : 0;
    if (c.id === cur) app.seen[c.id] = last;
    const unread = items.filter((it) => it.seq > (app.seen[c.id] || 0)).length;
    return `<li><a href="#" class="nav-item channel${c.id === cur ? " active" : ""}" data-channel="${attr(c.id)}">` +
      `<span># ${escapeHTML(c.name)}</span>${unread ? `<span class="badge">${unread}</span>` : ""}</a></li>`;
  }).join("");
  $("home-tab").classList.toggle("active", app.home);
  for (const a of document.querySelectorAll("[data-channel]")) {
    a.addEventListener("click", (e) => { e.preventDefault(); openChannel(a.dataset.channel); });
  }
}

function openChannel(id) {
  app.home = false;
  app.channel = id;
  $("home").hidden = true;
  $("timeline").hidden = false;
  $("composer-form").hidden = false;
  renderChannels();
  renderTimeline();
}

async function openHome() {
  app.home = true;
  $("timeline").hidden = true;
  $("composer-form").hidden = true;
  $("home").hidden = false;
  renderChannels();
  renderHome();
  await api("/play/home", { user: app.user }); // app_home_opened: the bot publishes the tab
}

function renderHome() {
  $("channel-name").textContent = "Botwarden · Home";
  $("channel-topic").textContent = "the App Home tab, as published for " + (app.names.users[app.user] || app.user);
  const view = app.state && app.state.home;
  $("home").innerHTML = view ? `<div data-surface="home">${renderBlocks(view.blocks, app.names)}</div>` : `<p class="muted">Opening…</p>`;
}

function msgHTML(it, replies) {
  const mine = it.kind === "echo";
  const who = mine ? escapeHTML(app.names.users[it.user] || it.user) : "Botwarden";
  const avatar = mine ? `<div class="avatar user">${escapeHTML(who[0])}</div>` : `<div class="avatar">B</div>`;
  const tag = mine ? "" : `<span class="app-tag">APP</span>`;
  const eph = it.kind === "ephemeral" || mine ? `<div class="eph-note">👁 Only visible to you</div>` : "";
  let body;
  if (it.file) {
    body = `<div class="file">📦 <b>${escapeHTML(it.file.title || it.file.name)}</b> <span class="muted">${escapeHTML(it.file.name)} · ${it.file.size} bytes</span>` +
      ` <a href="/play/files/${encodeURIComponent(it.file.id)}" download>download</a></div>`;
  } else if (it.blocks && it.blocks.length) {
    body = renderBlocks(it.blocks, app.names);
  } else {
    body = `<div class="msg-text">${mine ? escapeHTML(it.text) : mrkdwn(it.text, app.names)}</div>`;
  }
  const thread = replies && replies.length ? `<div class="thread">${replies.map((r) => msgHTML(r)).join("")}</div>` : "";
  return `<div class="msg ${attr(it.kind)}" data-key="${attr(it.key)}" data-ts="${attr(it.ts || "")}" data-channel="${attr(it.channel)}" data-surface="message">` +
    `${avatar}<div class="msg-body"><div class="msg-meta"><b>${who}</b>${tag}` +
    `${it.edited ? ' <span class="muted small">(edited)</span>' : ""}</div>${eph}${body}${thread}</div></div>`;
}

function renderTimeline() {
  const ch = app.config.channels.find((c) => c.id === app.channel);
  $("channel-name").textContent = "# " + ch.name;
  $("channel-topic").textContent = ch.id;
  const items = itemsOf(app.channel);
  const parents = new Set(items.filter((it) => it.ts).map((it) => it.ts));
  const replies = {};
  const top = [];
  for (const it of items) {
    if (it.thread_ts && it.thread_ts !== it.ts && parents.has(it.thread_ts)) (replies[it.thread_ts] = replies[it.thread_ts] || []).push(it);
    else top.push(it);
  }
  const tl = $("timeline");
  const atBottom = tl.scrollHeight - tl.scrollTop - tl.clientHeight < 40;
  tl.innerHTML = top.length ? top.map((it) => msgHTML(it, replies[it.ts])).join("")
    : `<p class="muted" style="padding:0 18px">Nothing here yet. Type <code>${escapeHTML(app.config.command)} help</code> below.</p>`;
  if (atBottom) tl.scrollTop = tl.scrollHeight;
}

async function runCommand(text) {
  $("composer-error").hidden = true;
  const res = await api("/play/command", { user: app.user, channel: app.home ? app.config.channels[0].id : app.channel, text });
  if (!res.ok) {
    $("composer-error").textContent = res.error;
    $("composer-error").hidden = false;
  }
  return res;
}

async function sendCommand(e) {
  e.preventDefault();
  const text = $("composer").value.trim();
  if (!text) return;
  $("send").disabled = true;
  try {
    const res = await runCommand(text);
    if (res.ok) $("composer").value = "";
  } finally {
    $("send").disabled = false;
  }
}

async function onButton(e) {
  const b = e.target.closest(".bk-button");
  if (!b) return;
  e.preventDefault();
  const msg = b.closest("[data-surface]");
  const home = msg && msg.dataset.surface === "home";
  b.disabled = true;
  try {
    await api("/play/action", {
      user: app.user, surface: home ? "home" : "message", channel: home ? "" : msg.dataset.channel,
      ts: home ? "" : msg.dataset.ts, action_id: b.dataset.actionId, block_id: b.dataset.blockId, value: b.dataset.value,
    });
  } finally {
    b.disabled = false;
  }
}

function renderModal() {
  const m = app.state && app.state.modal;
  const backdrop = $("modal-backdrop");
  if (!m) {
    backdrop.hidden = true;
    app.modalSig = "";
    return;
  }
  const sig = m.id + JSON.stringify(m.view);
  if (sig !== app.modalSig) {
    app.modalSig = sig;
    $("modal-title").innerHTML = plainText(m.view.title);
    $("modal-body").innerHTML = renderBlocks(m.view.blocks, app.names, m.errors);
    $("modal-submit").innerHTML = m.view.submit ? plainText(m.view.submit) : "Submit";
    $("modal-cancel").innerHTML = m.view.close ? plainText(m.view.close) : "Cancel";
    $("modal-error").hidden = true;
    $("modal").dataset.viewId = m.id;
  }
  showErrors(m.errors || {});
  backdrop.hidden = false;
}

function showErrors(errors) {
  for (const box of document.querySelectorAll("#modal-body .bk-input")) {
    const err = errors[box.dataset.blockId];
    box.classList.toggle("has-error", !!err);
    const el = box.querySelector(".bk-input-error");
    el.textContent = err || "";
    el.hidden = !err;
  }
}

async function submitModal(e) {
  e.preventDefault();
  const values = {};
  for (const el of document.querySelectorAll("#modal-body [data-block]")) {
    (values[el.dataset.block] = values[el.dataset.block] || {})[el.dataset.action] = el.value;
  }
  $("modal-submit").disabled = true;
  try {
    const res = await api("/play/submit", { user: app.user, view_id: $("modal").dataset.viewId, values });
    if (!res.ok) {
      $("modal-error").textContent = res.error;
      $("modal-error").hidden = false;
    } else if (!res.closed) {
      showErrors(res.errors || {});
    }
  } finally {
    $("modal-submit").disabled = false;
  }
}

async function closeModal() {
  await api("/play/close", { user: app.user, view_id: $("modal").dataset.viewId });
}

let ledgerBusy = false;
async function refreshLedger() {
  if (!app.config.ledger || ledgerBusy) return;
  ledgerBusy = true;
  try {
    const l = await api("/play/ledger");
    if (!l.head) return;
    $("ledger-size").textContent = l.head.size;
    $("ledger-root").textContent = l.head.root.slice(0, 16) + "…";
    $("ledger-root").title = l.head.root;
    $("ledger-time").textContent = l.head.size ? new Date(l.head.time).toLocaleTimeString() : "–";
    $("ledger-events").innerHTML = l.events.map((ev) =>
      `<li value="${ev.seq}"><code>${escapeHTML(ev.event_type || "?")}</code> ${escapeHTML(app.names.users[ev.actor] || ev.actor || "")}` +
      `${ev.op ? " · " + escapeHTML(ev.op) : ""}${ev.target ? " " + escapeHTML(ev.target) : ""}` +
      `${ev.outcome ? " → " + escapeHTML(ev.outcome) : ""}${ev.reason ? " (" + escapeHTML(ev.reason) + ")" : ""}</li>`).join("");
    const n = l.head.size;
    $("dl-export").href = `/play/ledger/export?size=${n}`;
    $("dl-checkpoint").href = `/play/ledger/checkpoint?size=${n}`;
    $("verify-hint").textContent = `botwarden ledger verify --export ledger-${n}.jsonl --checkpoint ledger-${n}.jsonl.checkpoint --key ${l.verifier_key}`;
  } catch (e) {
    // the next state change or the timer tries again
  } finally {
    ledgerBusy = false;
  }
}

init();
