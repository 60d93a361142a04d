// Block Kit to HTML: header, section (text, fields, button accessory),
// context, divider, actions (buttons), input (plain_text_input), image.
// Buttons carry what a click must send back; inputs carry their ids.
"use strict";

function attr(s) { return escapeHTML(s == null ? "" : s); }

function renderButton(el, blockID) {
  const style = el.style === "primary" || el.style === "danger" ? " " + el.style : "";
  return `<button type="button" class="bk-button${style}" data-action-id="${attr(el.action_id)}"` +
    ` data-block-id="${attr(blockID)}" data-value="${attr(el.value)}">${plainText(el.text)}</button>`;
}

function renderElement(el, blockID, names) {
  switch (el.type) {
    case "button": return renderButton(el, blockID);
    case "mrkdwn": case "plain_text": return `<span>${textObject(el, names)}</span>`;
    case "image": return `<span class="muted">[${attr(el.alt_text)}]</span>`;
    default: return `<span class="muted">[${attr(el.type)}]</span>`;
  }
}

function renderInput(b, errors) {
  const el = b.element || {};
  const err = errors && errors[b.block_id];
  const ph = el.placeholder ? ` placeholder="${attr(el.placeholder.text)}"` : "";
  const max = el.max_length ? ` maxlength="${Number(el.max_length)}"` : "";
  const ids = `data-block="${attr(b.block_id)}" data-action="${attr(el.action_id)}" id="input-${attr(b.block_id)}"`;
  let field;
  if (el.type === "plain_text_input") {
    field = el.multiline ? `<textarea ${ids}${ph}${max}></textarea>` : `<input type="text" ${ids}${ph}${max}>`;
  } else {
    field = `<span class="muted">[unsupported input ${attr(el.type)}]</span>`;
  }
  return `<div class="bk-input${err ? " has-error" : ""}" data-block-id="${attr(b.block_id)}">` +
    `<label for="input-${attr(b.block_id)}">${plainText(b.label)}${b.optional ? ' <span class="muted">(optional)</span>' : ""}</label>${field}` +
    (b.hint ? `<div class="muted small">${plainText(b.hint)}</div>` : "") +
    `<div class="bk-input-error"${err ? "" : " hidden"}>${escapeHTML(err || "")}</div></div>`;
}

function renderBlock(b, names, errors) {
  switch (b.type) {
    case "header":
      return `<div class="bk-header">${plainText(b.text)}</div>`;
    case "section": {
      let inner = b.text ? `<div class="bk-text">${textObject(b.text, names)}` : `<div class="bk-text">`;
      if (b.fields && b.fields.length) {
        inner += `<div class="bk-fields">${b.fields.map((f) => `<div>${textObject(f, names)}</div>`).join("")}</div>`;
      }
      inner += "</div>";
      if (b.accessory) inner += renderElement(b.accessory, b.block_id, names);
      return `<div class="bk-section">${inner}</div>`;
    }
    case "context":
      return `<div class="bk-context">${(b.elements || []).map((e) => renderElement(e, b.block_id, names)).join(" ")}</div>`;
    case "divider":
      return `<hr class="bk-divider">`;
    case "actions":
      return `<div class="bk-actions" data-block-id="${attr(b.block_id)}">${(b.elements || []).map((e) => renderElement(e, b.block_id, names)).join("")}</div>`;
    case "input":
      return renderInput(b, errors);
    case "image":
      return `<div class="muted">[image: ${attr(b.alt_text)}]</div>`;
    default:
      return `<div class="muted">[unsupported block ${attr(b.type)}]</div>`;
  }
}

function renderBlocks(blocks, names, errors) {
  if (!Array.isArray(blocks)) return "";
  return blocks.map((b) => renderBlock(b, names, errors)).join("");
}
