// Instances: one row per broker and authd replica (from their records in
// Redis, collected by admin), and one instance's charts on click.
import * as api from '../api.js';
import { h, pageHeader, banner, emptyState } from '../ui.js';
import { History, chartCard, loadUplot, poll, fmtNum, fmtBytes, fmtPct, fmtUptime } from '../charts.js';

const STATE_TONE = { serving: 'good', draining: 'neutral', down: 'danger' };

function stateBadge(s) {
  return h('span', { class: `badge badge-${STATE_TONE[s] || 'neutral'}`, testid: 'instance-state' }, s);
}

export function list(main) {
  const bannerEl = h('div', {});
  const body = h('div', { class: 'card' });
  main.append(
    pageHeader({ title: 'Instances', subtitle: 'Every broker, authd and forwarder replica seen in the last hour. Select one for its charts.' }),
    bannerEl, body);

  function render(doc) {
    banner(bannerEl, null);
    const items = doc.instances || [];
    if (!items.length) {
      body.replaceChildren(emptyState({ title: 'No instance has reported yet',
        text: 'Brokers (in cluster mode) and authd write their figures to Redis every second.' }));
      return;
    }
    const rows = items.map((i) => {
      const href = `#/instances/${encodeURIComponent(i.key)}`;
      const broker = i.kind === 'broker';
      return h('tr', { testid: 'instance-row', 'data-key': i.key, 'data-state': i.state, class: 'row-link',
        onclick: (e) => { if (!e.target.closest('a')) location.hash = href; } },
      h('td', { class: 'cell-nowrap' }, h('a', { href, class: 'row-title mono' }, i.id), h('div', { class: 'row-sub' }, i.kind)),
      h('td', {}, stateBadge(i.state)),
      h('td', { class: 'mono cell-nowrap' }, i.mqtt || '—'),
      h('td', { class: 'cell-nowrap' }, i.version || '—'),
      h('td', { class: 'num' }, fmtUptime(i.uptime_s)),
      h('td', { class: 'num', testid: 'instance-connections' }, broker ? fmtNum(i.connections) : '—'),
      h('td', { class: 'num' }, broker ? fmtNum(i.messages_in) : i.kind === 'authd' ? fmtNum(i.auth_requests) : '—'),
      h('td', { class: 'num' }, broker ? fmtNum(i.messages_out) : '—'),
      h('td', { class: 'num' }, fmtPct(i.cpu_percent)),
      h('td', { class: 'num' }, fmtBytes(i.rss_bytes)));
    });
    body.replaceChildren(h('div', { class: 'table-wrap' },
      h('table', { class: 'table table-dense', testid: 'instances-table' },
        h('thead', {}, h('tr', {}, ['Instance', 'State', 'MQTT', 'Version', 'Uptime', 'Connections', 'In /s', 'Out /s', 'CPU', 'Memory']
          .map((t, k) => h('th', { scope: 'col', class: k >= 4 ? 'num' : null }, t)))),
        h('tbody', {}, rows))));
  }

  const stop = poll(() => api.instances.list(), render, (err) => banner(bannerEl, err));
  return stop;
}

const BROKER_CHARTS = [
  { testid: 'chart-connections', title: 'Connections', lines: [{ name: 'connections', label: 'Connected' }] },
  { testid: 'chart-messages', title: 'Messages per second', lines: [{ name: 'messages_in', label: 'In' }, { name: 'messages_out', label: 'Out' }] },
  { testid: 'chart-bus', title: 'Bus messages per second', lines: [{ name: 'bus_out', label: 'Sent' }, { name: 'bus_in', label: 'Received' }] },
];
const AUTHD_CHARTS = [
  { testid: 'chart-auth', title: 'Auth requests per second', lines: [{ name: 'auth_requests', label: 'Requests' }] },
  { testid: 'chart-cache', title: 'Cache per second', lines: [{ name: 'cache_hits', label: 'Hits' }, { name: 'cache_misses', label: 'Misses' }] },
];
const PROCESS_CHARTS = [
  { testid: 'chart-cpu', title: 'CPU (% of one core)', lines: [{ name: 'cpu_percent', label: 'CPU' }], fmt: fmtPct },
  { testid: 'chart-rss', title: 'Memory (resident)', lines: [{ name: 'rss_bytes', label: 'RSS' }], fmt: fmtBytes },
];

export function detail(main, { id }) {
  const bannerEl = h('div', {});
  const facts = h('dl', { class: 'facts', testid: 'instance-facts' });
  const grid = h('div', { class: 'chart-grid' });
  const kind = (id || '').split(':')[0];
  const own = { broker: BROKER_CHARTS, authd: AUTHD_CHARTS }[kind] || [];
  const charts = [...own, ...PROCESS_CHARTS].map((c) => chartCard(c));
  grid.append(...charts.map((c) => c.el));
  main.append(
    pageHeader({ title: id, subtitle: { broker: 'Broker', authd: 'authd replica', forwarder: 'Forwarder replica' }[kind] || kind,
      back: { href: '#/instances', label: 'Instances' } }),
    bannerEl, h('section', { class: 'card card-pad' }, facts), grid);
  const hist = new History();
  let uPlot = null;

  function render(doc) {
    banner(bannerEl, null);
    const i = doc.instance || {};
    const fact = (k, v, testid) => [h('dt', {}, k), h('dd', { testid }, v)];
    facts.replaceChildren(
      ...fact('State', stateBadge(i.state)), ...fact('Version', i.version || '—'),
      ...fact('Uptime', fmtUptime(i.uptime_s)), ...(i.mqtt ? fact('MQTT listener', h('code', {}, i.mqtt)) : []),
      ...fact('Last report', i.seen_ms ? new Date(i.seen_ms).toLocaleTimeString(undefined, { hourCycle: 'h23' }) : '—'));
    hist.add(doc.series);
    for (const c of charts) c.update(hist, uPlot);
  }

  let stop = () => {};
  loadUplot().then((u) => {
    uPlot = u;
    stop = poll((cursor) => api.instances.get(id, cursor), render, (err) => banner(bannerEl, err));
  });
  return () => { stop(); charts.forEach((c) => c.destroy()); };
}
