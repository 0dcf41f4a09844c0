/**
 * The dashboard's browser script, served as /dashboard/app.js. It is a string because the project compiles
 * for Node (no DOM types in tsconfig); it is plain ES2020, has no dependencies, and is exercised by the
 * browser test (test/browser/dashboard.test.ts). It never uses innerHTML: every value from the server is set
 * with textContent, so a hostile URI or note cannot inject markup.
 *
 * Live updates read GET /events with fetch() and a stream reader rather than EventSource, because
 * EventSource cannot send the Authorization header.
 *
 * Lamps are computed here from the PIDF bodies with the browser's namespace-aware DOMParser (RFC 3863 basic
 * status; RFC 4480 activities): green = open, amber = open but busy (on-the-phone, busy, meeting ...),
 * red = closed, grey = unknown or nothing published.
 */

export const DASHBOARD_JS = String.raw`
const PIDF = 'urn:ietf:params:xml:ns:pidf';
const RPID = 'urn:ietf:params:xml:ns:pidf:rpid';
const DM = 'urn:ietf:params:xml:ns:pidf:data-model';
// RFC 4480 activities that make an open presentity "not quite available": the amber lamp.
const BUSY = new Set(['on-the-phone', 'busy', 'meeting', 'appointment', 'presentation', 'performance', 'in-transit', 'steering', 'away']);
const FEED_MAX = 100;

const state = {
  token: sessionStorage.getItem('presenced-token') || '',
  // "uri\n event" -> {uri, event, pubs: Map(etag -> publication), summary}
  entries: new Map(),
  // subscription id -> {id, presentity, event, watcher, status}
  subs: new Map(),
  // 0: the first connection replays the recent events the server still holds, so the feed starts with history.
  lastId: 0,
  filter: '',
};

const $ = (id) => document.getElementById(id);
const key = (uri, event) => uri + '\n' + event;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

async function api(path, init) {
  const headers = Object.assign({ accept: 'application/json' }, (init && init.headers) || {});
  if (state.token) headers.authorization = 'Bearer ' + state.token;
  const res = await fetch(path, Object.assign({}, init, { headers }));
  if (res.status === 401) {
    showLogin(state.token ? 'That token was not accepted.' : '');
    throw new Error('unauthorized');
  }
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res;
}

/** PIDF -> {basic, activities, note}, or undefined when the body is not PIDF. */
function summarize(contentType, body) {
  if (!/xml/i.test(contentType || '') || !body) return undefined;
  const doc = new DOMParser().parseFromString(body, 'application/xml');
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== PIDF || root.localName !== 'presence') return undefined;
  let basic = 'unknown';
  for (const b of root.getElementsByTagNameNS(PIDF, 'basic')) {
    const v = b.textContent.trim();
    if (v === 'open') { basic = 'open'; break; }
    if (v === 'closed') basic = 'closed';
  }
  const activities = [];
  for (const a of root.getElementsByTagNameNS(RPID, 'activities')) {
    // RFC 4480 section 3.2: <unknown/> says nothing is known, so it is not shown.
    for (const c of a.children) {
      if (c.namespaceURI === RPID && c.localName !== 'unknown' && !activities.includes(c.localName)) activities.push(c.localName);
    }
  }
  let note;
  for (const n of [...root.getElementsByTagNameNS(DM, 'note'), ...root.getElementsByTagNameNS(PIDF, 'note')]) {
    const t = n.textContent.trim();
    if (t) { note = t; break; }
  }
  return { basic, activities, note };
}

/** Combines the summaries of several devices: any open tuple makes the presentity open (RFC 4479 section 3.3). */
function combine(entry) {
  let basic = 'unknown';
  const activities = [];
  let note;
  let newest = -1;
  for (const p of entry.pubs.values()) {
    const s = p.summary;
    if (!s) continue;
    if (s.basic === 'open') basic = 'open';
    else if (s.basic === 'closed' && basic !== 'open') basic = 'closed';
    for (const a of s.activities) if (!activities.includes(a)) activities.push(a);
    if (s.note && p.received > newest) { note = s.note; newest = p.received; }
  }
  if (entry.pubs.size === 0 && entry.serverSummary) return entry.serverSummary;
  return { basic, activities, note };
}

function lampState(summary) {
  if (!summary || summary.basic === 'unknown') return 'unknown';
  if (summary.basic === 'closed') return 'closed';
  return summary.activities.some((a) => BUSY.has(a)) ? 'busy' : 'open';
}

function lampLabel(summary, lamp) {
  const words = { open: 'online', busy: 'busy', closed: 'offline', unknown: 'unknown' };
  const parts = [];
  // The activities say more than the lamp colour ("on the phone" rather than "busy").
  if (summary && summary.activities.length && lamp !== 'closed') parts.push(summary.activities.join(', ').replace(/-/g, ' '));
  else parts.push(words[lamp]);
  if (summary && summary.note) parts.push('"' + summary.note + '"');
  return parts.join(' \u00b7 ');
}

function setPublication(uri, event, pub, previous) {
  const k = key(uri, event);
  let entry = state.entries.get(k);
  if (!entry) {
    entry = { uri, event, pubs: new Map() };
    state.entries.set(k, entry);
  }
  // A refresh without a body keeps the state of the publication it replaces.
  const summary = pub.body !== undefined ? summarize(pub.contentType, pub.body) : previous && previous.summary;
  entry.pubs.set(pub.etag, {
    etag: pub.etag,
    contentType: pub.contentType,
    received: Date.parse(pub.receivedAt || pub.time || '') || Date.now(),
    summary,
  });
}

function removePublication(uri, event, etag) {
  const entry = state.entries.get(key(uri, event));
  if (!entry) return;
  entry.pubs.delete(etag);
  if (entry.pubs.size === 0) state.entries.delete(key(uri, event));
}

function render() {
  const list = $('presentities');
  const byUri = new Map();
  for (const e of state.entries.values()) {
    if (!byUri.has(e.uri)) byUri.set(e.uri, []);
    byUri.get(e.uri).push(e);
  }
  for (const s of state.subs.values()) if (!byUri.has(s.presentity)) byUri.set(s.presentity, []);
  const uris = [...byUri.keys()].sort();
  const cards = [];
  for (const uri of uris) {
    if (state.filter && !uri.toLowerCase().includes(state.filter)) continue;
    const events = byUri.get(uri);
    const presence = events.find((e) => e.event === 'presence');
    const summary = presence ? combine(presence) : undefined;
    const lamp = lampState(summary);
    const watchers = [...state.subs.values()].filter((s) => s.presentity === uri && s.status !== 'terminated');
    cards.push(
      el('li', { className: 'card', 'data-uri': uri },
        el('div', { className: 'top' },
          el('span', { className: 'lamp', 'data-state': lamp, title: lamp, role: 'img', ariaLabel: lamp }),
          el('span', { className: 'uri', text: uri })),
        el('div', { className: 'status', text: presence ? lampLabel(summary, lamp) : 'no presence publication' }),
        el('div', { className: 'chips' },
          ...events.map((e) => el('span', {
            className: 'chip',
            text: e.event + ' \u00b7 ' + e.pubs.size + (e.pubs.size === 1 ? ' publication' : ' publications'),
          }))),
        watchers.length
          ? el('ul', { className: 'watchers' },
              ...watchers.map((w) => el('li', { 'data-status': w.status, text: w.watcher + ' (' + w.event + ', ' + w.status + ')' })))
          : null));
  }
  list.replaceChildren(...cards);
  $('empty').hidden = cards.length > 0;
  renderCounts();
}

function renderCounts() {
  const counts = new Map();
  const bump = (event, field) => {
    if (!counts.has(event)) counts.set(event, { pres: 0, subs: 0 });
    counts.get(event)[field]++;
  };
  for (const e of state.entries.values()) bump(e.event, 'pres');
  for (const s of state.subs.values()) if (s.status !== 'terminated') bump(s.event, 'subs');
  const rows = [...counts.keys()].sort().map((ev) =>
    el('tr', { 'data-event': ev },
      el('td', { text: ev }),
      el('td', { text: String(counts.get(ev).pres) }),
      el('td', { text: String(counts.get(ev).subs) })));
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { text: 'none yet', colSpan: 3, className: 'muted' })));
  $('counts').tBodies[0].replaceChildren(...rows);
}

function feed(e) {
  const time = new Date(e.time).toLocaleTimeString();
  let what = e.presentity;
  if (e.type === 'publish' || e.type === 'exposed') {
    const s = summarize(e.contentType, e.body);
    what += ' ' + e.event + (s ? ' ' + lampLabel(s, lampState(s)) : '') + ' (' + e.expires + ' s)';
  } else if (e.type === 'unpublish') what += ' ' + e.event + ' ' + e.reason;
  else if (e.type.startsWith('subscription')) what = e.watcher + ' \u2192 ' + e.presentity + ' ' + e.event + (e.reason ? ' (' + e.reason + ')' : '');
  else if (e.type === 'notify-failed') what = e.watcher + ' ' + e.event + ' ' + e.status;
  else if (e.type === 'notify-in') what = e.watcher + ' \u2190 ' + e.presentity + ' ' + e.event + ' ' + e.state;
  const item = el('li', { 'data-type': e.type },
    el('time', { dateTime: e.time, text: time }),
    el('span', { className: 'type', text: e.type }),
    el('span', { text: what }));
  const list = $('feed');
  list.prepend(item);
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
}

function apply(e) {
  switch (e.type) {
    case 'publish': {
      const entry = state.entries.get(key(e.presentity, e.event));
      const previous = e.oldEtag && entry ? entry.pubs.get(e.oldEtag) : undefined;
      if (e.oldEtag && e.oldEtag !== e.etag) removePublication(e.presentity, e.event, e.oldEtag);
      setPublication(e.presentity, e.event, e, previous);
      break;
    }
    case 'unpublish':
      removePublication(e.presentity, e.event, e.etag);
      break;
    case 'subscription-created':
      state.subs.set(e.subscription, { id: e.subscription, presentity: e.presentity, event: e.event, watcher: e.watcher, status: e.status });
      break;
    case 'subscription-terminated':
      state.subs.delete(e.subscription);
      break;
  }
  feed(e);
  render();
}

async function load() {
  const [pres, subs] = await Promise.all([
    api('/api/presentities?bodies=true&limit=1000').then((r) => r.json()),
    api('/api/subscriptions?limit=1000').then((r) => r.json()),
  ]);
  state.entries.clear();
  state.subs.clear();
  for (const item of pres.items) {
    for (const p of item.publications) setPublication(item.uri, item.event, p);
    const entry = state.entries.get(key(item.uri, item.event));
    if (entry && item.summary) entry.serverSummary = item.summary;
  }
  for (const s of subs.items) state.subs.set(s.id, s);
  render();
}

function setConn(s, text) {
  const c = $('conn');
  c.dataset.state = s;
  c.textContent = text;
}

/** Reads the SSE stream; resolves when it ends. Frames are separated by a blank line (HTML spec, section 9.2). */
async function stream() {
  const headers = { accept: 'text/event-stream' };
  headers['last-event-id'] = String(state.lastId);
  const res = await api('/events', { headers });
  setConn('live', 'live');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let type = 'message', data = '', id;
      for (const line of frame.split('\n')) {
        if (line.startsWith('data:')) data += line.slice(5).trimStart();
        else if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('id:')) id = Number(line.slice(3).trim());
      }
      if (id !== undefined && Number.isFinite(id)) state.lastId = id;
      if (type === 'resync') { await load(); continue; }
      if (!data) continue;
      try { apply(JSON.parse(data)); } catch (err) { console.error('bad event', err); }
    }
  }
}

async function live() {
  let delay = 1000;
  for (;;) {
    try {
      await stream();
      delay = 1000;
    } catch (err) {
      if (err.message === 'unauthorized') return;
      console.warn('event stream:', err);
    }
    setConn('error', 'reconnecting');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

function showLogin(message) {
  $('login').hidden = false;
  $('main').hidden = true;
  $('login-error').textContent = message;
  setConn('error', 'signed out');
}

async function startApp() {
  $('login').hidden = true;
  $('main').hidden = false;
  try {
    await load();
  } catch (err) {
    if (err.message !== 'unauthorized') setConn('error', 'API unreachable');
    return;
  }
  live();
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = $('token').value.trim();
  sessionStorage.setItem('presenced-token', state.token);
  startApp();
});
$('filter').addEventListener('input', (ev) => {
  state.filter = ev.target.value.trim().toLowerCase();
  render();
});
startApp();
`;
