// strangler console: routes with live figures (server-sent events), flips
// and rollbacks with a confirmation and a reason, the mismatch explorer,
// declared accepted differences, flag history, guard and tokens. Every
// value from the server goes into the page as text, never as markup.
'use strict';

const state = { me: null, csrf: '', rows: new Map(), accepted: [], perms: new Set() };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) e.append(c);
  return e;
}

function say(msg, isError) {
  const s = $('status');
  s.textContent = msg;
  s.className = 'status' + (isError ? ' error' : '');
}

async function api(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = state.csrf;
  const r = await fetch(path, opts);
  if (r.status === 401) {
    location.href = '/login?m=expired';
    throw new Error('session expired');
  }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.status + ' ' + r.statusText);
  return data;
}

const can = (p) => state.perms.has(p);
const fmt = {
  rate: (v) => (v === null || v === undefined ? '–' : v.toFixed(1)),
  pct: (v) => (v === null || v === undefined ? '–' : (v * 100).toFixed(1) + '%'),
  ms: (v) => (v === null || v === undefined ? '–' : (v * 1000 < 10 ? (v * 1000).toFixed(1) : Math.round(v * 1000)) + ' ms'),
  time: (t) => {
    if (!t) return '–';
    const d = new Date(t);
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' +
      p(d.getMinutes()) + ':' + p(d.getSeconds());
  },
};

// ---- the confirmation dialog: every write goes through it ----

function field(f) {
  const id = 'f-' + f.name;
  const wrap = el('div');
  wrap.append(el('label', { for: id, text: f.label }));
  let input;
  if (f.type === 'select') {
    input = el('select', { id, name: f.name });
    for (const o of f.options) input.append(el('option', { value: o, text: o, selected: o === f.value }));
  } else if (f.type === 'textarea') {
    input = el('textarea', { id, name: f.name, rows: 3, required: f.required });
    input.value = f.value || '';
  } else {
    input = el('input', { id, name: f.name, type: f.type || 'text', required: f.required, min: f.min, max: f.max,
      readonly: f.readonly });
    input.value = f.value === undefined ? '' : f.value;
  }
  wrap.append(input);
  if (f.hint) wrap.append(el('small', { text: f.hint }));
  return wrap;
}

// ask shows the dialog and resolves with the field values, or null when
// cancelled. submit runs before it closes; its error stays in the dialog.
function ask({ title, text, fields, confirm, danger, submit }) {
  const d = $('dialog');
  const opener = document.activeElement;
  $('dialog-title').textContent = title;
  $('dialog-text').textContent = text || '';
  $('dialog-error').textContent = '';
  const box = $('dialog-fields');
  box.replaceChildren(...fields.map(field));
  const ok = $('dialog-confirm');
  ok.textContent = confirm || 'Confirm';
  ok.className = danger ? 'danger' : 'primary';
  ok.disabled = false;
  return new Promise((resolve) => {
    const form = $('dialog-form');
    const done = (v) => {
      form.onsubmit = null;
      $('dialog-cancel').onclick = null;
      d.onclose = null;
      if (d.open) d.close();
      if (opener && opener.focus) opener.focus();
      resolve(v);
    };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const values = Object.fromEntries(new FormData(form).entries());
      for (const f of fields) {
        if (f.required && !String(values[f.name] || '').trim()) {
          $('dialog-error').textContent = f.label + ' is required.';
          $('f-' + f.name).focus();
          return;
        }
      }
      ok.disabled = true;
      try {
        done(await submit(values));
      } catch (e) {
        ok.disabled = false;
        $('dialog-error').textContent = e.message;
      }
    };
    $('dialog-cancel').onclick = () => done(null);
    d.onclose = () => done(null);
    d.showModal();
    const first = box.querySelector('input:not([readonly]), select, textarea');
    if (first) first.focus();
  });
}

const reasonField = { name: 'reason', label: 'Reason (goes into the history)', type: 'textarea', required: true };

// ---- routes and live figures ----

function routeRow(r) {
  const cells = {};
  const tr = el('tr', { 'data-route': r.id, class: r.deny ? 'deny' : '' });
  tr.append(el('th', { scope: 'row', class: 'mono', text: r.id }));
  for (const k of ['mode', 'target', 'legacy-rps', 'legacy-err', 'legacy-p99', 'new-rps', 'new-err', 'new-p99',
    'mismatch', 'drift', 'changed']) {
    cells[k] = el('td', { class: k.includes('-') || k === 'mismatch' ? 'num ' + k : k });
    tr.append(cells[k]);
  }
  const actions = el('td', { class: 'actions' });
  if (!r.deny && (can('flip') || can('rollback'))) {
    actions.append(el('button', { type: 'button', class: 'flip', 'aria-label': 'Change the mode of ' + r.id,
      text: 'Mode…', onclick: () => flipRoute(r.id) }));
  }
  if (!r.deny && can('rollback')) {
    cells.rollback = el('button', { type: 'button', class: 'rollback', 'aria-label': 'Roll back ' + r.id,
      text: 'Roll back…', onclick: () => rollbackRoute(r.id) });
    actions.append(' ', cells.rollback);
  }
  tr.append(actions);
  return { tr, cells };
}

function updateRoutes(view) {
  const tbody = document.querySelector('#routes tbody');
  const live = view.live || {};
  // Routes that can move first; deny routes (no mode) at the end.
  const routes = [...view.routes.routes].sort((a, b) => Number(a.deny) - Number(b.deny));
  for (const r of routes) {
    let row = state.rows.get(r.id);
    if (!row) {
      row = routeRow(r);
      state.rows.set(r.id, row);
      tbody.append(row.tr);
    }
    const c = row.cells;
    const mode = r.mode === 'canary' ? 'canary ' + r.percent + '%' : r.mode;
    c.mode.textContent = mode + (r.local ? ' (this replica only)' : '');
    c.mode.className = 'mode mode-' + r.mode;
    c.target.textContent = r.target || '–';
    const l = live[r.id] || { legacy: {}, new: {} };
    c['legacy-rps'].textContent = fmt.rate(l.legacy.rps || 0);
    c['legacy-err'].textContent = fmt.pct(l.legacy.error_rate);
    c['legacy-p99'].textContent = fmt.ms(l.legacy.p99_seconds);
    c['new-rps'].textContent = fmt.rate(l.new.rps || 0);
    c['new-err'].textContent = fmt.pct(l.new.error_rate);
    c['new-p99'].textContent = fmt.ms(l.new.p99_seconds);
    c.mismatch.textContent = l.compared ? fmt.pct(l.mismatch_rate) + ' of ' + l.compared : '–';
    const d = l.drift;
    c.drift.textContent = d ? 'lag ' + d.relay_lag_seconds.toFixed(1) + ' s, ' + (d.outbox_pending + d.intents_pending) +
      ' pending' + (d.dead ? ', ' + d.dead + ' dead' : '') : '–';
    const changed = r.changed_by ? r.changed_by + ', ' + fmt.time(r.changed_at) + ': ' + r.reason : 'default';
    c.changed.textContent = changed;
    c.changed.title = changed;
    if (c.rollback) c.rollback.disabled = r.mode === 'legacy';
  }
  const v = view.routes;
  const behind = (v.replicas || []).filter((x) => x.flags_version < v.flags_version).length;
  $('live-note').textContent = 'Flags version ' + v.flags_version + ', ' + (v.replicas || []).length + ' replicas' +
    (behind ? ' (' + behind + ' behind)' : '') + '. Live figures: this replica, last ' +
    (view.window_seconds ? view.window_seconds.toFixed(0) + ' s' : '…') + '.' + (view.error ? ' ' + view.error : '');
}

function flipRoute(id) {
  const modes = can('flip') ? ['legacy', 'shadow', 'canary', 'new'] : ['legacy'];
  return ask({
    title: 'Change the mode of ' + id,
    text: 'Every replica applies the change at once. A route of a write group moves with its whole group.',
    fields: [
      { name: 'mode', label: 'Mode', type: 'select', options: modes },
      { name: 'percent', label: 'Canary percentage (canary mode only)', type: 'number', min: 1, max: 100, value: 10 },
      reasonField,
    ],
    confirm: 'Change mode',
    submit: async (v) => {
      const body = { mode: v.mode, reason: v.reason, percent: v.mode === 'canary' ? Number(v.percent) : 0 };
      const res = await api('PUT', '/api/routes/' + encodeURIComponent(id), body);
      say(id + ' → ' + v.mode + (res.local ? ' (applied to this replica only: the database is unreachable)' : '') +
        (res.note ? '. ' + res.note : ''));
      refreshSoon();
      return res;
    },
  });
}

function rollbackRoute(id) {
  return ask({
    title: 'Roll back ' + id,
    text: id + ' (and its write group) goes back to legacy on every replica.',
    fields: [reasonField], confirm: 'Roll back', danger: true,
    submit: async (v) => {
      const res = await api('POST', '/api/rollback', { routes: [id], reason: v.reason });
      say(id + ' rolled back' + (res.local ? ' on this replica (the database is unreachable)' : ''));
      refreshSoon();
      return res;
    },
  });
}

function rollbackAll() {
  return ask({
    title: 'Roll back everything',
    text: 'Every route goes back to legacy on every replica.',
    fields: [reasonField], confirm: 'Roll back everything', danger: true,
    submit: async (v) => {
      const res = await api('POST', '/api/rollback', { all: true, reason: v.reason });
      say('Everything rolled back' + (res.local ? ' on this replica (the database is unreachable)' : ''));
      refreshSoon();
      return res;
    },
  });
}

let source = null;
function connectLive() {
  if (source) source.close();
  source = new EventSource('/api/live/stream');
  source.addEventListener('live', (ev) => updateRoutes(JSON.parse(ev.data)));
  source.onerror = async () => {
    try {
      await api('GET', '/api/me'); // a 401 sends the browser to the login page
    } catch (e) { /* the stream reconnects by itself */ }
  };
}

// ---- mismatch explorer ----

function isDeclared(route, proc, path) {
  return state.accepted.some((a) => a.route === route && a.procedure === proc && a.path === path);
}

async function loadDiffs() {
  const rep = await api('GET', '/api/diffs?since=' + $('diffs-since').value);
  const rows = rep.groups.map((g) => {
    const declared = isDeclared(g.route, g.procedure, g.path);
    return el('tr', { 'data-group': g.route + ' ' + g.procedure + ' ' + g.path },
      el('td', { class: 'mono', text: g.route }), el('td', { class: 'mono', text: g.procedure || '–' }),
      el('td', { class: 'mono', text: g.path }), el('td', { class: 'num', text: String(g.count) }),
      el('td', { text: fmt.time(g.last_seen) }),
      el('td', {}, el('span', { class: declared ? 'badge' : 'badge bad', text: declared ? 'accepted' : 'mismatch' })),
      el('td', {}, el('button', { type: 'button', class: 'open', 'aria-label': 'Open mismatch ' + g.example_id + ' of ' + g.route,
        text: 'Open', onclick: () => openRecord(g.example_id) })));
  });
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 7, text: 'No mismatches recorded in this period.' })));
  document.querySelector('#diff-groups tbody').replaceChildren(...rows);
}

function pretty(s) {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch (e) {
    return s;
  }
}

async function openRecord(id) {
  renderRecord(await api('GET', '/api/diffs/' + id));
  $('record').hidden = false;
  $('record').focus();
}

function renderRecord(r) {
  state.record = r;
  $('record-h').textContent = 'Mismatch #' + r.id + ' · ' + r.route + (r.procedure ? ' · ' + r.procedure : '');
  $('record-request').textContent = r.method + ' ' + r.path + (r.query ? '?' + r.query : '') + ' — legacy ' +
    r.legacy_status + ' in ' + r.legacy_ms + ' ms, new ' + r.new_status + ' in ' + r.new_ms + ' ms, ' +
    r.primary_side + ' answered, ' + fmt.time(r.at);
  $('record-legacy').textContent = pretty(r.legacy_body);
  $('record-new').textContent = pretty(r.new_body);
  const rows = (r.diffs || []).map((d) => {
    let declare = '';
    if (d.class === 'mismatch' && isDeclared(r.route, r.procedure, d.general)) {
      declare = el('span', { class: 'badge', text: 'declared accepted' });
    } else if (d.class === 'mismatch' && can('accept')) {
      declare = el('button', { type: 'button', class: 'declare', 'aria-label': 'Declare ' + d.general + ' accepted',
        text: 'Declare accepted…', onclick: () => declareAccepted(r, d) });
    }
    return el('tr', { 'data-path': d.general },
      el('td', { class: 'mono', text: d.path }), el('td', { text: d.kind }),
      el('td', {}, el('span', { class: d.class === 'mismatch' ? 'badge bad' : 'badge', text: d.class })),
      el('td', { class: 'mono', text: d.legacy === undefined ? '–' : String(d.legacy) }),
      el('td', { class: 'mono', text: d.new === undefined ? '–' : String(d.new) }),
      el('td', {}, declare));
  });
  document.querySelector('#record-diffs tbody').replaceChildren(...rows);
}

function declareAccepted(rec, d) {
  const expires = new Date(Date.now() + 90 * 864e5).toISOString().slice(0, 10);
  return ask({
    title: 'Declare an accepted difference',
    text: 'Differences at this path of ' + rec.route + ' will count as accepted, not as mismatches, on every replica until it expires.',
    fields: [
      { name: 'path', label: 'Path (glob)', value: d.general, required: true },
      { name: 'procedure', label: 'Procedure', value: rec.procedure },
      { name: 'owner', label: 'Owner', value: state.me.name, required: true },
      { name: 'expires', label: 'Expires', type: 'date', value: expires, required: true },
      reasonField,
    ],
    confirm: 'Declare accepted',
    submit: async (v) => {
      const res = await api('POST', '/api/accepted', { route: rec.route, procedure: v.procedure, path: v.path,
        owner: v.owner, expires: v.expires, reason: v.reason, record_id: rec.id });
      say('Declared ' + v.path + ' of ' + rec.route + ' accepted');
      await loadAccepted();
      await loadDiffs();
      renderRecord(rec);
      return res;
    },
  });
}

async function loadAccepted() {
  const data = await api('GET', '/api/accepted');
  state.accepted = data.accepted;
  const rows = data.accepted.map((a) => el('tr', { 'data-accepted': a.id },
    el('td', { class: 'mono', text: a.route }), el('td', { class: 'mono', text: a.procedure || '–' }),
    el('td', { class: 'mono', text: a.path }), el('td', { text: a.reason }), el('td', { text: a.owner }),
    el('td', { text: fmt.time(a.expires) }), el('td', { text: a.created_by }),
    el('td', {}, can('accept') ? el('button', { type: 'button', 'aria-label': 'Remove the declaration of ' + a.path,
      text: 'Remove…', onclick: () => removeAccepted(a) }) : '')));
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 8, text: 'None declared here (the configured ones live in shadow.accepted).' })));
  document.querySelector('#accepted tbody').replaceChildren(...rows);
}

function removeAccepted(a) {
  return ask({
    title: 'Remove a declared difference',
    text: a.path + ' of ' + a.route + ' will count as a mismatch again.',
    fields: [reasonField], confirm: 'Remove', danger: true,
    submit: async (v) => {
      await api('DELETE', '/api/accepted/' + a.id + '?reason=' + encodeURIComponent(v.reason));
      say('Removed the declaration of ' + a.path);
      await loadAccepted();
      return true;
    },
  });
}

// ---- history, guard, tokens ----

async function loadHistory() {
  const data = await api('GET', '/api/history?limit=50');
  const show = (s) => (s ? (s.mode === 'canary' ? 'canary ' + s.percent + '%' : s.mode) : 'default');
  const rows = data.history.map((h) => el('tr', {},
    el('td', { text: fmt.time(h.at) }), el('td', { class: 'mono', text: h.key }),
    el('td', { text: show(h.before) + ' → ' + show(h.after) }), el('td', { text: h.actor + ' (' + h.source + ')' }),
    el('td', { text: h.reason })));
  document.querySelector('#history tbody').replaceChildren(...rows);
}

async function loadGuard() {
  const g = await api('GET', '/api/guard');
  let s = 'Automatic rollback is ' + (g.enabled ? 'on' : 'off') + ' on this replica (configured: ' +
    (g.configured_enabled ? 'on' : 'off') + ').';
  if (g.setting) s += ' Set ' + (g.setting.enabled ? 'on' : 'off') + ' by ' + g.setting.changed_by + ': ' + g.setting.reason + '.';
  if (!g.runtime_switch) s += ' This build applies a changed setting at its next start.';
  $('guard-state').textContent = s;
  const t = $('guard-toggle');
  const want = !(g.setting ? g.setting.enabled : g.configured_enabled);
  t.hidden = !can('guard');
  t.textContent = want ? 'Turn automatic rollback on…' : 'Turn automatic rollback off…';
  t.onclick = () => ask({
    title: t.textContent.replace('…', ''), fields: [reasonField], confirm: 'Change', danger: !want,
    submit: async (v) => {
      const res = await api('PUT', '/api/guard', { enabled: want, reason: v.reason });
      await loadGuard();
      return res;
    },
  });
  const rows = g.events.map((e) => el('tr', {},
    el('td', { text: fmt.time(e.at) }), el('td', { class: 'mono', text: e.route }), el('td', { text: e.signal }),
    el('td', { class: 'num', text: e.value.toFixed(3) + ' / ' + e.threshold.toFixed(3) }), el('td', { text: e.detail })));
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: 5, text: 'No automatic rollback recorded.' })));
  document.querySelector('#guard-events tbody').replaceChildren(...rows);
  $('breakers').replaceChildren(...g.breakers.map((b) => el('li', { text: 'Breaker ' + b.target + ': ' + b.state })));
}

async function loadTokens() {
  if (!can('tokens')) return;
  $('tokens-section').hidden = false;
  const data = await api('GET', '/api/tokens');
  const rows = data.tokens.map((t) => el('tr', {},
    el('td', { class: 'mono', text: t.name }), el('td', { text: t.role }), el('td', { text: fmt.time(t.expires_at) }),
    el('td', { text: t.created_by }),
    el('td', {}, el('button', { type: 'button', 'aria-label': 'Revoke token ' + t.name, text: 'Revoke…',
      onclick: () => ask({ title: 'Revoke token ' + t.name, fields: [reasonField], confirm: 'Revoke', danger: true,
        submit: async (v) => {
          await api('DELETE', '/api/tokens/' + encodeURIComponent(t.name) + '?reason=' + encodeURIComponent(v.reason));
          await loadTokens();
          return true;
        } }) }))));
  document.querySelector('#tokens tbody').replaceChildren(...rows);
}

function createToken() {
  return ask({
    title: 'Create an API token',
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'role', label: 'Role', type: 'select', options: ['viewer', 'engineer', 'sre', 'admin'], value: 'viewer' },
      { name: 'expires', label: 'Lifetime', value: '90d', required: true, hint: 'such as 90d, 12h' },
    ],
    confirm: 'Create',
    submit: async (v) => {
      const res = await api('POST', '/api/tokens', v);
      await loadTokens();
      await ask({ title: 'Token ' + v.name, text: 'Copy it now: it is not shown again.',
        fields: [{ name: 'token', label: 'Token', value: res.token, readonly: true }], confirm: 'Done',
        submit: async () => true });
      return res;
    },
  });
}

// ---- start ----

let timer = null;
async function refresh() {
  const jobs = [loadAccepted().then(loadDiffs), loadHistory(), loadGuard(), loadTokens()];
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) say(failed.reason.message, true);
}
function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 300);
}

async function start() {
  try {
    state.me = await api('GET', '/api/me');
  } catch (e) {
    say(e.message, true);
    return;
  }
  state.csrf = state.me.csrf || '';
  state.perms = new Set(state.me.permissions);
  $('logout-csrf').value = state.csrf;
  $('who').textContent = state.me.name + ' · ' + state.me.roles.join(', ');
  $('rollback-all').hidden = !can('rollback');
  $('rollback-all').onclick = rollbackAll;
  $('diffs-refresh').onclick = () => loadDiffs().catch((e) => say(e.message, true));
  $('diffs-since').onchange = $('diffs-refresh').onclick;
  $('token-create').onclick = createToken;
  updateRoutes(await api('GET', '/api/live'));
  connectLive();
  await refresh();
  setInterval(refresh, 5000);
}

document.addEventListener('DOMContentLoaded', start);
