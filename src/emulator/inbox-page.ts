/**
 * The emulator's inbox page at `/`: what it received, newest first, each message shown as Android, iOS and Web
 * would display it, with filters by project, token and topic, and the fault settings editable. Plain HTML, CSS
 * and a small script, served by the emulator under a strict Content-Security-Policy (no inline code, nothing
 * from elsewhere); every value is written with textContent, never parsed as HTML.
 */

export const INBOX_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' https: data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const INBOX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FCM emulator inbox</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/__emulator/inbox.css">
<script src="/__emulator/inbox.js" defer></script>
</head>
<body>
<header>
  <h1>FCM emulator inbox</h1>
  <form id="filters">
    <label>Project <select id="project"><option value="">all</option></select></label>
    <label>Token <input id="token" placeholder="any"></label>
    <label>Topic <input id="topic" placeholder="any"></label>
    <button type="button" id="clear">Clear inbox</button>
  </form>
</header>
<main>
  <section id="messages" aria-live="polite"><p class="empty">No message yet.</p></section>
  <aside>
    <h2>Faults</h2>
    <p>JSON as for <code>PUT /__emulator/faults</code>, e.g. <code>{"tokens": {"dead-token": "UNREGISTERED"}}</code>.</p>
    <textarea id="faults" rows="10" spellcheck="false"></textarea>
    <button type="button" id="save-faults">Save faults</button>
    <p id="faults-status" role="status"></p>
  </aside>
</main>
</body>
</html>
`;

export const INBOX_CSS = `
:root { font-family: system-ui, sans-serif; color: #1f2328; background: #f6f8fa; }
body { margin: 0; }
header { background: #fff; border-bottom: 1px solid #d0d7de; padding: 12px 20px; }
h1 { font-size: 18px; margin: 0 0 8px; }
form { display: flex; gap: 12px; flex-wrap: wrap; align-items: center; }
label { font-size: 13px; display: flex; gap: 6px; align-items: center; }
input, select { font: inherit; padding: 3px 6px; }
main { display: grid; grid-template-columns: 1fr 320px; gap: 20px; padding: 20px; }
aside { font-size: 13px; } aside h2 { font-size: 16px; margin: 0 0 8px; }
aside textarea { width: 100%; box-sizing: border-box; font-family: ui-monospace, monospace; font-size: 12px; }
article { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 12px; margin-bottom: 12px; }
.meta { font-size: 12px; color: #57606a; margin-bottom: 8px; display: flex; gap: 10px; flex-wrap: wrap; }
.outcome.ok { color: #1a7f37; } .outcome.error { color: #cf222e; font-weight: 600; }
.devices { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; }
.device { border-radius: 12px; padding: 10px; font-size: 13px; min-height: 48px; }
.device h3 { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; margin: 0 0 6px; opacity: .7; }
.device .title { font-weight: 600; } .device .body { margin-top: 2px; }
.android { background: #e8f0fe; } .ios { background: #f2f2f7; } .web { background: #fff8e1; }
details { margin-top: 8px; font-size: 12px; } pre { white-space: pre-wrap; word-break: break-all; }
.empty { color: #57606a; }
`;

export const INBOX_JS = `'use strict';
const $ = (id) => document.getElementById(id);
const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};
let messages = [];
let faultsLoaded = false;

/** What each platform would show: its own block's title and body, else the common notification's. */
function display(message, platform) {
  const common = message.notification || {};
  const pick = (block) => ({ title: block.title ?? common.title, body: block.body ?? common.body });
  if (platform === 'android') return pick((message.android || {}).notification || {});
  if (platform === 'web') return pick((message.webpush || {}).notification || {});
  const alert = ((((message.apns || {}).payload || {}).aps || {}).alert);
  return pick(typeof alert === 'string' ? { body: alert } : alert || {});
}

function device(message, platform, label) {
  const box = el('div', 'device ' + platform);
  box.append(el('h3', '', label));
  const shown = display(message, platform);
  if (shown.title === undefined && shown.body === undefined) {
    box.append(el('div', 'body', 'data only: ' + Object.keys(message.data || {}).join(', ')));
  } else {
    box.append(el('div', 'title', shown.title ?? ''), el('div', 'body', shown.body ?? ''));
  }
  return box;
}

function matches(entry) {
  const token = $('token').value.trim();
  const topic = $('topic').value.trim().replace(/^\\/topics\\//, '');
  const project = $('project').value;
  if (project && entry.projectId !== project) return false;
  const target = entry.message;
  if (token && target.token !== token && !(entry.deliveredTo || []).includes(token)) return false;
  if (topic && (target.topic || '').replace(/^\\/topics\\//, '') !== topic && !(target.condition || '').includes("'" + topic + "'")) return false;
  return true;
}

function render() {
  const list = $('messages');
  const shown = messages.filter(matches).reverse();
  list.replaceChildren();
  if (shown.length === 0) list.append(el('p', 'empty', 'No message yet.'));
  for (const entry of shown) {
    const card = el('article');
    card.dataset.seq = String(entry.seq);
    const target = entry.message.token ? 'token ' + entry.message.token : entry.message.topic ? 'topic ' + entry.message.topic : 'condition ' + entry.message.condition;
    const meta = el('div', 'meta');
    meta.append(
      el('span', '', new Date(entry.receivedAt).toLocaleTimeString()),
      el('span', '', entry.projectId),
      el('span', 'target', target),
      el('span', 'outcome ' + (entry.errorCode ? 'error' : 'ok'), entry.errorCode || (entry.validateOnly ? 'validated' : 'delivered')),
      el('span', '', 'HTTP/' + entry.httpVersion),
    );
    if (entry.deliveredTo) meta.append(el('span', '', 'reached ' + entry.deliveredTo.length + ' token(s)'));
    const devices = el('div', 'devices');
    devices.append(device(entry.message, 'android', 'Android'), device(entry.message, 'ios', 'iOS'), device(entry.message, 'web', 'Web'));
    const raw = el('details');
    raw.append(el('summary', '', 'FCM message'), el('pre', '', JSON.stringify(entry.message, null, 2)));
    card.append(meta, devices, raw);
    list.append(card);
  }
}

async function refresh() {
  const response = await fetch('/__emulator/messages');
  if (!response.ok) return;
  messages = (await response.json()).messages;
  const select = $('project');
  const known = new Set([...select.options].map((option) => option.value));
  for (const project of new Set(messages.map((entry) => entry.projectId))) {
    if (!known.has(project)) select.append(new Option(project, project));
  }
  render();
  if (!faultsLoaded) {
    faultsLoaded = true;
    $('faults').value = JSON.stringify(await (await fetch('/__emulator/faults')).json(), null, 2);
  }
}

async function saveFaults() {
  const status = $('faults-status');
  const response = await fetch('/__emulator/faults', { method: 'PUT', body: $('faults').value });
  const body = await response.json();
  status.textContent = response.ok ? 'Saved.' : 'Refused: ' + ((body.error || {}).message || response.status);
  if (response.ok) $('faults').value = JSON.stringify(body, null, 2);
}

document.addEventListener('DOMContentLoaded', () => {
  for (const id of ['project', 'token', 'topic']) $(id).addEventListener('input', render);
  $('save-faults').addEventListener('click', saveFaults);
  $('clear').addEventListener('click', async () => {
    await fetch('/__emulator/messages', { method: 'DELETE' });
    await refresh();
  });
  refresh();
  setInterval(refresh, 1500);
});
`;
