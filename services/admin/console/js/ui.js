// Small DOM helpers shared by the pages: element builder, icons, banners,
// field errors, toasts, confirmation dialog, row menus, pager, formatting.

export function h(tag, attrs, ...children) {
  const el = document.createElementNS(
    tag === 'svg' || tag === 'path' || tag === 'circle' ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml',
    tag,
  );
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'testid') el.setAttribute('data-testid', v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const ICONS = {
  overview: 'M4 19V5m0 14h16M8 15l3-4 3 2 5-6',
  instances: 'M5 5h14v5H5zM5 14h14v5H5zM8 7.5h.01M8 16.5h.01',
  clients: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8Zm-7 8a7 7 0 0 1 14 0',
  groups: 'M4 7h16M4 12h16M4 17h10',
  rules: 'M5 6h6m-6 6h14M5 18h8m6-12-3 3-2-2',
  connections: 'M5 12a7 7 0 0 1 14 0M8.5 12a3.5 3.5 0 0 1 7 0M12 12v7',
  pipelines: 'M4 12h10M10 8l4 4-4 4M17 5h3v14h-3',
  mappings: 'M5 7h6l3 5-3 5H5M14 12h5',
  audit: 'M7 4h10v16H7zM10 8h4m-4 4h4m-4 4h2',
  certificates: 'M12 3 5 6v5c0 4.5 3 8.3 7 10 4-1.7 7-5.5 7-10V6l-7-3Zm-3 9 2 2 4-4',
  bans: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18ZM5.6 5.6l12.8 12.8',
  explain: 'M12 17v.01M9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z',
  dots: 'M12 6h.01M12 12h.01M12 18h.01',
  plus: 'M12 5v14M5 12h14',
  search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14Zm9 2-4.3-4.3',
  refresh: 'M20 11a8 8 0 1 0-2.3 5.7M20 5v6h-6',
  eye: 'M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12Zm10 3a3 3 0 1 0 0-6 3 3 0 0 0 0 6Z',
  eyeOff: 'M3 3l18 18M10.6 5.1A10 10 0 0 1 12 5c6.5 0 10 7 10 7a17 17 0 0 1-3 3.9M6.6 6.6C3.8 8.4 2 12 2 12s3.5 7 10 7a10 10 0 0 0 4.2-.9M9.9 9.9a3 3 0 0 0 4.2 4.2',
  dice: 'M5 4h14a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1Zm4 5h.01M15 9h.01M12 12h.01M9 15h.01M15 15h.01',
  copy: 'M9 9h10v11H9zM5 15V4h10',
  trash: 'M4 7h16M10 11v6m4-6v6M6 7l1 13h10l1-13M9 7V4h6v3',
  edit: 'M4 20h4L19 9l-4-4L4 16v4Zm9-13 4 4',
  up: 'M12 19V5m-6 6 6-6 6 6',
  down: 'M12 5v14m-6-6 6 6 6-6',
  info: 'M12 8h.01M11 12h1v5h1M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z',
  out: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  back: 'M15 6l-6 6 6 6',
  alert: 'M12 9v4m0 4h.01M10.3 4.3 2.5 18a2 2 0 0 0 1.7 3h15.6a2 2 0 0 0 1.7-3L13.7 4.3a2 2 0 0 0-3.4 0Z',
  x: 'M6 6l12 12M18 6 6 18',
};

export function icon(name, cls = name === 'dots' ? 'icon icon-bold' : 'icon') {
  return h('svg', { class: cls, viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' },
    h('path', { d: ICONS[name] || ICONS.info }));
}

// ---------------------------------------------------------------- page scaffold

export function pageHeader({ title, subtitle, actions = [], back }) {
  return h('header', { class: 'page-header' },
    h('div', { class: 'page-heading' },
      back ? h('a', { class: 'back-link', href: back.href, testid: 'back-link' }, icon('back'), back.label) : null,
      h('h1', { id: 'page-title', tabindex: '-1' }, title),
      subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}

export function reconnectNotice(what = 'These changes') {
  return h('div', { class: 'notice', role: 'note', testid: 'reconnect-notice' },
    icon('info'),
    h('p', {},
      h('strong', {}, `${what} apply when devices reconnect. `),
      'Devices that are connected now keep the access they were given when they connected. ',
      'To apply a change at once, disconnect the device on the ',
      h('a', { href: '#/connections' }, 'Connections'), ' page.'));
}

export function banner(container, err) {
  container.replaceChildren();
  if (!err) return;
  const msg = typeof err === 'string' ? err : err.message;
  container.append(h('div', { class: 'banner banner-error', role: 'alert', testid: 'error-banner' },
    icon('alert'), h('div', {}, h('strong', {}, 'Something went wrong. '), msg)));
  container.scrollIntoView?.({ block: 'nearest' });
}

export function loading(label = 'Loading…') {
  return h('div', { class: 'state state-loading', role: 'status', testid: 'loading' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}

export function emptyState({ title, text, action }) {
  return h('div', { class: 'state state-empty', testid: 'empty-state' },
    h('p', { class: 'state-title' }, title),
    text ? h('p', { class: 'state-text' }, text) : null,
    action || null);
}

// ---------------------------------------------------------------- form fields

let fieldSeq = 0;

// A labelled field. `control` is an input/select/element; its id is set here.
export function field({ label, name, control, hint, optional, extra }) {
  const id = control.id || `f-${name}-${++fieldSeq}`;
  control.id = id;
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  const describedBy = [hint ? hintId : null, errId].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', describedBy);
  const wrap = h('div', { class: 'field', 'data-field': name },
    h('label', { for: id, class: 'field-label' }, label, optional ? h('span', { class: 'optional' }, ' (optional)') : null),
    extra ? h('div', { class: 'input-group' }, control, extra) : control,
    hint ? h('p', { class: 'field-hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errId, role: 'alert', testid: `error-${name}`, hidden: true }));
  const clear = () => {
    if (!wrap.classList.contains('has-error')) return;
    wrap.classList.remove('has-error');
    control.removeAttribute('aria-invalid');
    const msg = wrap.querySelector(`#${CSS.escape(errId)}`);
    msg.textContent = '';
    msg.hidden = true;
  };
  control.addEventListener('input', clear);
  control.addEventListener('change', clear);
  return wrap;
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) { el.textContent = ''; el.hidden = true; }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.has-error')) el.classList.remove('has-error');
}

// Shows an API error next to its field (details.field) when the form has that
// field, else in the banner. Returns true when it found a field.
export function showError(form, bannerEl, err, aliases = {}) {
  clearFieldErrors(form);
  banner(bannerEl, null);
  const name = err?.field ? (aliases[err.field] || err.field) : null;
  const box = name ? findField(form, name) : null;
  if (!box) {
    banner(bannerEl, err);
    return false;
  }
  const msg = box.querySelector(':scope > .field-error, .field-error');
  msg.textContent = err.message;
  msg.hidden = false;
  box.classList.add('has-error');
  const input = box.querySelector('input, select, textarea');
  if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  return true;
}

function findField(form, name) {
  const exact = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (exact) return exact;
  // acl[2].topic, acl.2.topic, acl/2/topic → the row's field, else the list.
  const m = /^([a-z_]+)[[./](\d+)\]?(?:[./]([a-z_]+))?$/i.exec(name);
  if (m) {
    const row = form.querySelector(`[data-field="${m[1]}.${m[2]}${m[3] ? `.${m[3]}` : ''}"]`)
      || form.querySelector(`[data-field="${m[1]}.${m[2]}"]`);
    if (row) return row;
    return form.querySelector(`[data-field="${m[1]}"]`);
  }
  const base = name.split(/[[.]/)[0];
  return form.querySelector(`[data-field="${CSS.escape(base)}"]`);
}

export function setBusy(button, busy, busyLabel) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    if (busyLabel) button.textContent = busyLabel;
  } else {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (button.dataset.label) button.textContent = button.dataset.label;
  }
}

// ---------------------------------------------------------------- toasts

export function toast(text, kind = 'success') {
  const region = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}`, testid: 'toast' }, text);
  region.append(t);
  setTimeout(() => t.classList.add('toast-leave'), 3000);
  setTimeout(() => t.remove(), 3400);
}

// ---------------------------------------------------------------- dialogs

// A modal confirmation. Resolves true when confirmed. `action` runs while the
// dialog stays open; its error is shown inside the dialog.
export function confirmDialog({ title, body, confirmLabel = 'Delete', danger = true, action }) {
  return new Promise((resolve) => {
    const errBox = h('div', { class: 'dialog-error' });
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary', testid: 'confirm-cancel' }, 'Cancel');
    const ok = h('button', { type: 'submit', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, testid: 'confirm-ok' }, confirmLabel);
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title', testid: 'confirm-dialog' },
      h('form', { method: 'dialog', class: 'dialog-form' },
        h('h2', { id: 'dlg-title', class: 'dialog-title' }, title),
        h('div', { class: 'dialog-body' }, body),
        errBox,
        h('div', { class: 'dialog-actions' }, cancel, ok)));
    const returnFocus = document.activeElement;
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      if (returnFocus?.isConnected) returnFocus.focus();
      resolve(v);
    };
    cancel.addEventListener('click', () => finish(false));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); finish(false); });
    dlg.querySelector('form').addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!action) return finish(true);
      setBusy(ok, true, 'Working…');
      cancel.disabled = true;
      try {
        await action();
        finish(true);
      } catch (err) {
        setBusy(ok, false);
        cancel.disabled = false;
        banner(errBox, err);
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}

// ---------------------------------------------------------------- row menu

let openMenu = null;

function closeMenu(focusButton = false) {
  if (!openMenu) return;
  const { btn, list } = openMenu;
  list.hidden = true;
  btn.setAttribute('aria-expanded', 'false');
  openMenu = null;
  if (focusButton) btn.focus();
}

document.addEventListener('click', (e) => {
  if (openMenu && !openMenu.wrap.contains(e.target)) closeMenu();
});
window.addEventListener('hashchange', () => closeMenu());

// A three-dot menu: items are [{label, icon, danger, testid, onSelect}].
export function rowMenu({ label, testid, items }) {
  const listId = `menu-${++fieldSeq}`;
  const btn = h('button', {
    type: 'button', class: 'btn-icon', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    'aria-controls': listId, 'aria-label': label, title: 'Actions', testid,
  }, icon('dots'));
  const entries = items.map((it) => h('button', {
    type: 'button', role: 'menuitem', tabindex: '-1', class: `menu-item${it.danger ? ' menu-item-danger' : ''}`, testid: it.testid,
    onclick: () => { closeMenu(true); it.onSelect(); },
  }, it.icon ? icon(it.icon) : null, it.label));
  const list = h('div', { class: 'menu', role: 'menu', id: listId, hidden: true }, entries);
  const wrap = h('div', { class: 'menu-wrap' }, btn, list);
  const focusAt = (i) => entries[(i + entries.length) % entries.length].focus();
  btn.addEventListener('click', (e) => {
    e.stopPropagation();
    if (openMenu?.btn === btn) return closeMenu();
    closeMenu();
    list.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    openMenu = { btn, list, wrap };
    // Open upward when there is no room below.
    const r = btn.getBoundingClientRect();
    list.classList.toggle('menu-up', window.innerHeight - r.bottom < 120);
    focusAt(0);
  });
  btn.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); btn.click(); }
  });
  list.addEventListener('keydown', (e) => {
    const i = entries.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') { e.preventDefault(); focusAt(i + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); focusAt(i - 1); }
    else if (e.key === 'Home') { e.preventDefault(); focusAt(0); }
    else if (e.key === 'End') { e.preventDefault(); focusAt(-1); }
    else if (e.key === 'Escape' || e.key === 'Tab') { if (e.key === 'Escape') e.preventDefault(); closeMenu(e.key === 'Escape'); }
  });
  return wrap;
}

// ---------------------------------------------------------------- list pager

// Cursor pagination: remembers the cursors of the pages already seen so
// "Previous" can go back.
export class Pager {
  constructor(limit = 20) {
    this.limit = limit;
    this.reset();
  }
  reset() { this.stack = [null]; this.next = null; }
  get cursor() { return this.stack[this.stack.length - 1]; }
  get page() { return this.stack.length; }
  get hasPrev() { return this.stack.length > 1; }
  get hasNext() { return Boolean(this.next); }
  forward() { if (this.next) this.stack.push(this.next); }
  back() { if (this.hasPrev) this.stack.pop(); }
}

// nouns: a [singular, plural] pair or one word.
export function pagerBar(pager, count, onMove, nouns = 'items', total = null) {
  const [one, many] = Array.isArray(nouns) ? nouns : [nouns, nouns];
  const hasTotal = Number.isFinite(total) && total >= count;
  const noun = (hasTotal ? total : count) === 1 ? one : many;
  const prev = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'page-prev', disabled: !pager.hasPrev,
    onclick: () => { pager.back(); onMove(); } }, 'Previous');
  const next = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'page-next', disabled: !pager.hasNext,
    onclick: () => { pager.forward(); onMove(); } }, 'Next');
  return h('nav', { class: 'pager', 'aria-label': 'Pagination' },
    h('span', { class: 'pager-info', testid: 'page-info' }, hasTotal
      ? `Page ${pager.page} · ${count} of ${total} ${noun}`
      : `Page ${pager.page} · ${count} ${noun} on this page`),
    h('div', { class: 'pager-buttons' }, prev, next));
}

export function searchBox({ placeholder, value, onSearch, testid = 'search', label }) {
  const input = h('input', { type: 'search', class: 'input', placeholder, value: value || '', 'aria-label': label || placeholder, testid, autocomplete: 'off', spellcheck: 'false' });
  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => onSearch(input.value.trim()), 250);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); clearTimeout(timer); onSearch(input.value.trim()); }
  });
  return h('div', { class: 'search' }, icon('search'), input);
}

// ---------------------------------------------------------------- formatting

export function fmtTime(v) {
  if (!v) return '—';
  const d = new Date(typeof v === 'number' && v < 1e12 ? v * 1000 : v);
  if (Number.isNaN(d.getTime())) return String(v);
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString(undefined, {
    year: sameYear ? undefined : 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  });
}

export function fmtRelative(v) {
  if (!v) return '';
  const d = new Date(typeof v === 'number' && v < 1e12 ? v * 1000 : v);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (Number.isNaN(s)) return '';
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

// Time of day only when it is today (dense tables), else the full fmtTime.
export function fmtTimeShort(v) {
  const d = new Date(typeof v === 'number' && v < 1e12 ? v * 1000 : v);
  if (Number.isNaN(d.getTime())) return fmtTime(v);
  if (d.toDateString() !== new Date().toDateString()) return fmtTime(v);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

export function timeCell(v, short = false) {
  if (!v) return '—';
  return h('time', { datetime: String(v), title: String(v) }, short ? fmtTimeShort(v) : fmtTime(v));
}

export const AUTH_TYPES = {
  username_password: 'Username/Password',
  certificate: 'Certificate',
  both: 'Username/Password + Certificate',
};

export const MATCH_BY = {
  client: 'Client',
  mqtt_client_id: 'MQTT Client ID',
  certificate_fingerprint: 'Certificate Fingerprint',
};
