// Audit log: every write made through admin (who, what, when).
import * as api from '../api.js';
import { h, pageHeader, banner, loading, emptyState, Pager, pagerBar, searchBox, timeCell } from '../ui.js';

const state = { search: '', pager: new Pager(50) };

const pick = (o, ...keys) => { for (const k of keys) if (o[k] !== undefined && o[k] !== null && o[k] !== '') return o[k]; return undefined; };
const SHOWN = new Set(['id', 'time', 'at', 'ts', 'created_at', 'actor', 'who', 'token', 'token_name', 'action', 'op', 'kind', 'object', 'object_kind', 'object_id', 'target', 'id_object', 'summary', 'name']);

function describe(e) {
  const details = e.details && typeof e.details === 'object' ? e.details
    : Object.fromEntries(Object.entries(e).filter(([k]) => !SHOWN.has(k)));
  const parts = Object.entries(details).filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  return e.summary || parts.join(' · ');
}

function actionTone(a) {
  const s = String(a || '').toLowerCase();
  if (/delete|remove|revoke|kick|disconnect/.test(s)) return 'danger';
  if (/create|add/.test(s)) return 'good';
  return 'neutral';
}

export function list(main) {
  const bannerEl = h('div', {});
  const body = h('div', { class: 'card' });
  let alive = true;

  main.append(
    pageHeader({ title: 'Audit log', subtitle: 'Every change made through the console, the API or roostctl, newest first.' }),
    bannerEl,
    h('div', { class: 'toolbar' },
      searchBox({ placeholder: 'Search the audit log', label: 'Search the audit log', value: state.search, testid: 'audit-search',
        onSearch: (q) => { state.search = q; state.pager.reset(); load(); } })),
    body);

  async function load() {
    body.replaceChildren(loading('Loading audit log…'));
    banner(bannerEl, null);
    try {
      const page = await api.audit.list({ limit: state.pager.limit, cursor: state.pager.cursor, search: state.search });
      if (!alive) return;
      state.pager.next = page?.next_cursor || null;
      render(page?.items || []);
    } catch (err) {
      if (!alive) return;
      body.replaceChildren();
      banner(bannerEl, err);
    }
  }

  function render(items) {
    if (!items.length) {
      body.replaceChildren(emptyState({ title: state.search ? 'No entries match your search' : 'No changes recorded yet',
        text: 'Creating, editing or deleting anything adds an entry here.' }));
      if (state.pager.hasPrev) body.append(pagerBar(state.pager, 0, load, 'entries'));
      return;
    }
    const rows = items.map((e) => {
      const action = pick(e, 'action', 'op') || '—';
      const kind = pick(e, 'kind', 'object_kind', 'object');
      const objId = pick(e, 'object_id', 'target', 'name');
      return h('tr', { testid: 'audit-row' },
        h('td', { class: 'nowrap' }, timeCell(pick(e, 'time', 'at', 'ts', 'created_at'))),
        h('td', {}, String(pick(e, 'actor', 'who', 'token_name', 'token') ?? '—')),
        h('td', {}, h('span', { class: `badge badge-${actionTone(action)}` }, String(action))),
        h('td', {}, kind ? h('span', {}, String(kind), objId ? h('span', { class: 'row-sub mono' }, ` ${objId}`) : null) : '—'),
        h('td', { class: 'hide-sm muted cell-wrap' }, describe(e) || '—'));
    });
    body.replaceChildren(
      h('div', { class: 'table-wrap' },
        h('table', { class: 'table table-dense', testid: 'audit-table' },
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'Action'),
            h('th', { scope: 'col' }, 'Object'), h('th', { scope: 'col', class: 'hide-sm' }, 'Details'))),
          h('tbody', {}, rows))),
      pagerBar(state.pager, items.length, load, items.length === 1 ? 'entry' : 'entries'));
  }

  load();
  return () => { alive = false; };
}
