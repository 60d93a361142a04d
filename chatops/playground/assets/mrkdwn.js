// Slack mrkdwn to HTML: <@U…>, <#C…|name>, <url|label>, <!date^…|…>,
// *bold*, _italic_, ~strike~, `code`, ```pre```, :emoji:. Text is escaped
// first; only the markup below produces tags.
"use strict";

const EMOJI = {
  red_circle: "🔴", large_green_circle: "🟢", large_orange_circle: "🟠", large_blue_circle: "🔵",
  white_circle: "⚪", white_check_mark: "✅", no_entry: "⛔", hourglass_flowing_sand: "⏳",
  hourglass: "⌛", x: "❌", warning: "⚠️", lock: "🔒", arrows_counterclockwise: "🔄",
  closed_lock_with_key: "🔐", grey_question: "❔", rotating_light: "🚨", page_facing_up: "📄",
  package: "📦", octagonal_sign: "🛑", pause_button: "⏸️", arrow_forward: "▶️", mag: "🔍",
  information_source: "ℹ️", key: "🔑", bell: "🔔", robot_face: "🤖", stop_sign: "🛑",
};

function escapeHTML(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function unescapeSlack(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function formatDate(unix, fallback) {
  const d = new Date(Number(unix) * 1000);
  if (isNaN(d.getTime())) return escapeHTML(fallback);
  return escapeHTML(d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }));
}

// names maps user and channel ids to display names.
function renderToken(tok, names) {
  const [target, label] = splitOnce(tok, "|");
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return `<span class="mention">@${escapeHTML(names.users[id] || id)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return `<span class="mention">#${escapeHTML(label || names.channels[id] || id)}</span>`;
  }
  if (target.startsWith("!date^")) {
    return formatDate(target.split("^")[1], label || "");
  }
  if (target.startsWith("!")) return `<b>@${escapeHTML(target.slice(1))}</b>`;
  const href = /^(https?|mailto):/i.test(target) ? target : "#";
  return `<a href="${escapeHTML(href)}" target="_blank" rel="noopener noreferrer">${escapeHTML(unescapeSlack(label || target))}</a>`;
}

function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}

function mrkdwn(text, names) {
  if (!text) return "";
  const held = [];
  const hold = (html) => { held.push(html); return "\u0000" + (held.length - 1) + "\u0000"; };
  let s = String(text).replace(/<([^<>\n]+)>/g, (_, tok) => hold(renderToken(tok, names)));
  s = escapeHTML(unescapeSlack(s));
  s = s.replace(/```([\s\S]*?)```/g, (_, code) => hold(`<pre>${code.replace(/^\n/, "")}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  s = s.replace(/(^|[^\w*])\*([^*\n]+)\*(?!\w)/g, "$1<b>$2</b>");
  s = s.replace(/(^|[^\w])_(\S(?:[^\n]*?\S)?)_(?!\w)/g, "$1<i>$2</i>");
  s = s.replace(/(^|[^\w~])~([^~\n]+)~(?!\w)/g, "$1<s>$2</s>");
  s = s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
  s = s.replace(/\n/g, "<br>");
  for (let i = 0; i < 3 && s.includes("\u0000"); i++) {
    s = s.replace(/\u0000(\d+)\u0000/g, (_, n) => held[Number(n)]);
  }
  return s;
}

function plainText(obj) {
  if (!obj) return "";
  if (obj.type === "mrkdwn") return null; // caller renders it as mrkdwn
  return escapeHTML(obj.text || "").replace(/:([a-z0-9_+-]+):/g, (m, name) => (obj.emoji !== false && EMOJI[name]) || m);
}

function textObject(obj, names) {
  if (!obj) return "";
  if (obj.type === "mrkdwn") return mrkdwn(obj.text, names);
  return plainText(obj);
}
