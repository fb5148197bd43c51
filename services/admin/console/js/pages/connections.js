// Connections: who is connected right now, cluster-wide, with a Disconnect action.
import * as api from '../api.js';
import {
  h, icon, pageHeader, banner, loading, emptyState, toast, confirmDialog, Pager, pagerBar,
  searchBox, timeCell, fmtRelative,
} from '../ui.js';

const state = { search: '', pager: new Pager(50), auto: true };
const REFRESH_MS = 5000;

function protoLabel(p) {
  const s = String(p ?? '').replace(/^MQTT\s*/i, '');
  if (s === '4') return '3.1.1';
  if (s === '5' || s === '5.0') return '5.0';
  if (s === '3') return '3.1';
  return s || '—';
}

export function list(main) {
  const bannerEl = h('div', {});
  const body = h('div', { class: 'card' });
  const sharedBody = h('div', { class: 'card', testid: 'shared-card' });
  const updated = h('span', { class: 'muted updated', testid: 'connections-updated', 'aria-live': 'off' });
  let alive = true;
  let timer = null;
  let groupNames = new Map();

  const refreshBtn = h('button', { type: 'button', class: 'btn btn-secondary', testid: 'connections-refresh', onclick: () => load() }, icon('refresh'), 'Refresh');
  const autoBox = h('input', { type: 'checkbox', checked: state.auto, testid: 'connections-auto' });
  autoBox.addEventListener('change', () => { state.auto = autoBox.checked; schedule(); });

  main.append(
    pageHeader({
      title: 'Connections',
      subtitle: 'Devices connected to any broker of the cluster right now. One client’s credentials may hold several connections.',
      actions: [refreshBtn],
    }),
    bannerEl,
    h('div', { class: 'toolbar' },
      searchBox({ placeholder: 'Search by MQTT client id', label: 'Search connections', value: state.search, testid: 'connections-search',
        onSearch: (q) => { state.search = q; state.pager.reset(); load(); } }),
      h('div', { class: 'toolbar-end' },
        h('label', { class: 'toggle' }, autoBox, h('span', {}, 'Auto-refresh')),
        updated)),
    body,
    h('h2', { class: 'card-title' }, 'Shared subscriptions'),
    h('p', { class: 'muted' }, 'Groups of $share/{name}/{filter} subscribers: each message goes to one member, cluster-wide. Deliveries count since the member\u2019s broker started.'),
    sharedBody);

  function schedule() {
    clearTimeout(timer);
    if (alive && state.auto) timer = setTimeout(() => load(true), REFRESH_MS);
  }

  async function load(background = false) {
    clearTimeout(timer);
    // Never redraw under an open dialog or while the operator is in the table.
    if (background && (document.querySelector('dialog[open]') || body.contains(document.activeElement) || document.hidden)) {
      schedule();
      return;
    }
    if (!background) body.replaceChildren(loading('Loading connections…'));
    try {
      const [page, groups, inst] = await Promise.all([
        api.connections.list({ limit: state.pager.limit, cursor: state.pager.cursor, search: state.search }),
        groupNames.size ? null : api.listAll(api.groups).catch(() => []),
        api.instances.list().catch(() => null),
      ]);
      if (!alive) return;
      if (groups) groupNames = new Map(groups.map((g) => [g.id, g.name]));
      banner(bannerEl, null);
      state.pager.next = page?.next_cursor || null;
      state.total = Number.isFinite(page?.total) ? page.total : null;
      render(page?.items || []);
      renderShared(inst?.instances || []);
      updated.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { hourCycle: 'h23' })}`;
    } catch (err) {
      if (!alive) return;
      if (!background) body.replaceChildren();
      banner(bannerEl, err);
    }
    schedule();
  }

  function render(items) {
    if (!items.length) {
      body.replaceChildren(emptyState({
        title: state.search ? 'No connection matches your search' : 'No devices connected',
        text: state.search ? `No MQTT client id contains “${state.search}”.` : 'Devices appear here as soon as a broker accepts their connection.',
      }));
      if (state.pager.hasPrev) body.append(pagerBar(state.pager, 0, () => load(), 'connections'));
      return;
    }
    const rows = items.map((c) => h('tr', { testid: 'connection-row', 'data-mqtt-client-id': c.mqtt_client_id },
      h('td', { class: 'cell-nowrap' }, h('span', { class: 'row-title mono' }, c.mqtt_client_id)),
      h('td', { class: 'cell-nowrap' }, c.client_id
        ? h('a', { href: `#/clients/${encodeURIComponent(c.client_id)}` }, c.username || c.client_name || c.client_id)
        : h('span', { class: 'muted' }, c.username || '—')),
      h('td', { class: 'mono cell-nowrap' }, c.peer || '—'),
      h('td', { class: 'cell-nowrap', title: `MQTT ${protoLabel(c.protocol)}${c.transport ? ` over ${c.transport}` : ''}` },
        protoLabel(c.protocol), c.transport && c.transport !== 'tcp' ? h('span', { class: 'muted' }, ` ${c.transport}`) : null),
      h('td', { class: 'num' }, c.keepalive != null ? `${c.keepalive} s` : '—'),
      h('td', { class: 'cell-nowrap' }, timeCell(c.connected_at, true), h('div', { class: 'row-sub' }, fmtRelative(c.connected_at))),
      h('td', { class: 'mono cell-nowrap' }, c.broker || '—'),
      h('td', {}, c.groups?.length
        ? h('span', { class: 'chips' }, c.groups.map((g) => h('span', { class: 'chip' }, groupNames.get(g) || g)))
        : h('span', { class: 'muted' }, 'None')),
      h('td', { class: 'col-actions' },
        h('button', { type: 'button', class: 'btn btn-danger-quiet btn-sm', testid: 'connection-disconnect',
          'aria-label': `Disconnect ${c.mqtt_client_id}`, onclick: () => disconnect(c) }, 'Disconnect'))));
    body.replaceChildren(
      h('div', { class: 'table-wrap' },
        h('table', { class: 'table table-dense', testid: 'connections-table' },
          h('thead', {}, h('tr', {},
            ['MQTT Client ID', 'Client', 'Peer', 'Protocol', 'Keep-Alive', 'Connected At', 'Broker', 'Groups'].map((t) =>
              h('th', { scope: 'col', class: t === 'Keep-Alive' ? 'num' : null }, t)),
            h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
          h('tbody', {}, rows))),
      pagerBar(state.pager, items.length, () => load(), ['connection', 'connections'], state.total));
  }

  // One row per (group, filter, broker, member), from each broker's instance record.
  function renderShared(instances) {
    const rows = [];
    for (const i of instances) {
      for (const g of (i.kind === 'broker' && Array.isArray(i.shared) ? i.shared : [])) {
        for (const m of g.members || []) {
          rows.push(h('tr', { testid: 'shared-row', 'data-group': g.group, 'data-client-id': m.client_id },
            h('td', { class: 'mono cell-nowrap' }, g.group),
            h('td', { class: 'mono' }, g.filter),
            h('td', { class: 'mono cell-nowrap' }, i.id),
            h('td', { class: 'mono cell-nowrap' }, m.client_id),
            h('td', {}, m.connected ? 'connected' : h('span', { class: 'muted' }, 'offline')),
            h('td', { class: 'num', testid: 'shared-deliveries' }, String(m.deliveries))));
        }
      }
    }
    if (!rows.length) {
      sharedBody.replaceChildren(emptyState({ title: 'No shared subscriptions',
        text: 'Members appear here when a device subscribes to $share/{name}/{filter}.' }));
      return;
    }
    sharedBody.replaceChildren(h('div', { class: 'table-wrap' },
      h('table', { class: 'table table-dense', testid: 'shared-table' },
        h('thead', {}, h('tr', {}, ['Group', 'Filter', 'Broker', 'Member (MQTT client id)', 'State', 'Deliveries'].map((t) =>
          h('th', { scope: 'col', class: t === 'Deliveries' ? 'num' : null }, t)))),
        h('tbody', {}, rows))));
  }

  async function disconnect(c) {
    const ok = await confirmDialog({
      title: 'Disconnect device?',
      body: h('div', {},
        h('p', {}, 'Close the connection of ', h('strong', { class: 'mono', testid: 'confirm-name' }, c.mqtt_client_id), c.broker ? ` on ${c.broker}` : '', ' now?'),
        h('p', { class: 'muted' }, 'The device may reconnect at once if its credentials are still valid; it then gets the current groups and permissions. To keep it out, edit or delete its client first.')),
      confirmLabel: 'Disconnect',
      action: () => api.connections.disconnect(c.mqtt_client_id),
    });
    if (ok) { toast(`Disconnected ${c.mqtt_client_id}.`); load(); }
  }

  load();
  return () => { alive = false; clearTimeout(timer); };
}
