// Audit log: every write made through admin (who, what, when).
import * as api from '../api.js';
import { h, Pager, timeCell } from '../ui.js';
import { listPage, th } from '../listpage.js';

const state = { search: '', pager: new Pager(50) };

const OBJECT_PAGES = { client: '#/clients/', group: '#/groups/', rule: '#/rules/', group_rule: '#/rules/' };
const OBJECT_NAMES = { client: 'Client', group: 'Group', rule: 'Group rule', group_rule: 'Group rule', token: 'Token', connection: 'Connection' };

// "client.update" -> {kind: "client", verb: "update"}
function splitAction(action) {
  const a = String(action || '');
  const dot = a.indexOf('.');
  return dot < 0 ? { kind: '', verb: a } : { kind: a.slice(0, dot), verb: a.slice(dot + 1) };
}

function actorName(actor) {
  if (!actor) return '—';
  if (typeof actor === 'string') return actor;
  return actor.name || actor.id || '—';
}

// "name=Boiler room 7 username=boiler-7": a value runs up to the next " key=".
function summary(text) {
  const s = String(text || '').trim();
  if (!s) return '—';
  if (!/^\w+=/.test(s)) return s;
  const parts = s.split(/\s+(?=\w+=)/).map((p) => {
    const i = p.indexOf('=');
    return [p.slice(0, i), p.slice(i + 1)];
  });
  return h('span', { class: 'kv' }, parts.map(([k, v]) => h('span', { class: 'kv-item' },
    h('span', { class: 'kv-key' }, k.replace(/_/g, ' ')), ' ', h('span', { class: 'kv-val' }, v.replace(/^"|"$/g, '')))));
}

function actionTone(verb) {
  const s = String(verb || '').toLowerCase();
  if (/delete|remove|revoke|kick|disconnect/.test(s)) return 'danger';
  if (/create|add/.test(s)) return 'good';
  return 'neutral';
}

function objectCell(kind, verb, id) {
  const label = OBJECT_NAMES[kind] || kind || '—';
  if (!id) return label;
  const href = OBJECT_PAGES[kind];
  const short = id.length > 12 ? `${id.slice(0, 8)}…` : id;
  return h('span', {}, label, ' ',
    href && !/delete/.test(verb)
      ? h('a', { href: href + encodeURIComponent(id), class: 'mono row-sub', title: id }, short)
      : h('span', { class: 'mono row-sub', title: id }, short));
}

export function list(main) {
  const page = listPage(main, {
    state,
    title: 'Audit log',
    subtitle: 'Every change made through the console, the API or roostctl, newest first.',
    search: { placeholder: 'Search the audit log', label: 'Search the audit log', testid: 'audit-search' },
    loadingText: 'Loading audit log…',
    nouns: ['entry', 'entries'],
    fetch: (params) => api.audit.list(params),
    table: { testid: 'audit-table', dense: true },
    columns: [th('When'), th('Who'), th('Action'), th('Object'), th('Details', 'hide-sm')],
    actions: false,
    row: (e) => {
      const { kind, verb } = splitAction(e.action);
      return h('tr', { testid: 'audit-row' },
        h('td', { class: 'nowrap' }, timeCell(e.time)),
        h('td', { class: 'nowrap' }, actorName(e.actor)),
        h('td', {}, h('span', { class: `badge badge-${actionTone(verb)}` }, verb || '—')),
        h('td', { class: 'nowrap' }, objectCell(kind, verb, e.object_id)),
        h('td', { class: 'hide-sm muted cell-wrap' }, summary(e.summary)));
    },
    empty: { title: 'No changes recorded yet', text: 'Creating, editing or deleting anything adds an entry here.', matchTitle: 'No entries match your search' },
  });
  return page.stop;
}
