// Overview: the console's landing page. Where devices connect, whether the
// cluster is healthy, and live charts of the last hour (updated every 2 s
// from /api/v1/overview, asking only for points newer than the last one).
import * as api from '../api.js';
import { h, pageHeader, banner } from '../ui.js';
import { History, chartCard, loadUplot, poll, fmtNum, fmtPct } from '../charts.js';

const CHARTS = [
  { testid: 'chart-connections', title: 'Connections', lines: [{ name: 'connections', label: 'Connected' }] },
  { testid: 'chart-connects', title: 'CONNECTs per second',
    lines: [{ name: 'connects_accepted', label: 'Accepted' }, { name: 'refused_bad_credentials', label: 'Bad credentials' },
      { name: 'refused_not_authorized', label: 'Not authorized' }, { name: 'refused_unavailable', label: 'Server unavailable' },
      { name: 'refused_protocol', label: 'Protocol' }] },
  { testid: 'chart-messages', title: 'Messages per second',
    lines: [{ name: 'messages_in', label: 'In' }, { name: 'messages_out', label: 'Out' }] },
  { testid: 'chart-qos', title: 'QoS 1/2 queue per second',
    lines: [{ name: 'queued', label: 'Queued' }, { name: 'dropped', label: 'Dropped' }] },
  { testid: 'chart-retained', title: 'Retained messages', lines: [{ name: 'retained', label: 'Retained' }] },
  { testid: 'chart-cache', title: 'Auth cache hit ratio', lines: [{ name: 'cache_hit_ratio', label: 'Hits' }],
    fmt: (v) => (v == null ? '—' : fmtPct(v * 100)) },
  { testid: 'chart-bus', title: 'Bus messages per second (between brokers)',
    lines: [{ name: 'bus_out', label: 'Sent' }, { name: 'bus_in', label: 'Received' }] },
];

function stat(label, testid) {
  const value = h('strong', { class: 'stat-value', testid }, '—');
  return { el: h('div', { class: 'stat' }, h('span', { class: 'stat-label' }, label), value), value };
}

function kindText(k) {
  if (!k) return '—';
  const parts = [`${k.up} up`];
  if (k.draining) parts.push(`${k.draining} draining`);
  if (k.down) parts.push(`${k.down} down`);
  return parts.join(', ');
}

export function page(main) {
  const bannerEl = h('div', {});
  const endpoints = h('ul', { class: 'endpoint-list', testid: 'overview-endpoints' });
  const brokers = stat('Brokers', 'cluster-brokers');
  const authd = stat('authd', 'cluster-authd');
  const redis = stat('Redis', 'cluster-redis');
  const forwarders = stat('Forwarders', 'cluster-forwarders');
  const conns = stat('Connected now', 'now-connections');
  const msgsIn = stat('Messages in', 'now-messages-in');
  const msgsOut = stat('Messages out', 'now-messages-out');
  const accepted = stat('CONNECTs accepted', 'now-connects-accepted');
  const refused = stat('CONNECTs refused', 'now-connects-refused');
  const charts = CHARTS.map((c) => chartCard(c));
  const updated = h('span', { class: 'muted updated', testid: 'overview-updated', 'aria-live': 'off' });
  const hist = new History();
  let uPlot = null;

  main.append(
    pageHeader({ title: 'Overview', subtitle: 'The cluster at a glance: live figures of the last hour, every 2 seconds.' }),
    bannerEl,
    h('div', { class: 'overview-grid', testid: 'overview-page' },
      h('section', { class: 'card card-pad' }, h('h2', { class: 'card-title' }, 'Connect devices to'), endpoints),
      h('section', { class: 'card card-pad' }, h('h2', { class: 'card-title' }, 'Cluster'),
        h('div', { class: 'stats' }, brokers.el, authd.el, forwarders.el, redis.el),
        h('p', { class: 'muted' }, h('a', { href: '#/instances' }, 'Every instance →'))),
      h('section', { class: 'card card-pad' }, h('h2', { class: 'card-title' }, 'Devices'),
        h('div', { class: 'stats' }, conns.el, accepted.el, refused.el, msgsIn.el, msgsOut.el))),
    h('div', { class: 'toolbar' }, h('div', { class: 'toolbar-end' }, updated)),
    h('div', { class: 'chart-grid' }, charts.map((c) => c.el)));

  function render(doc) {
    banner(bannerEl, null);
    const eps = doc.endpoints || [];
    endpoints.replaceChildren(...(eps.length
      ? eps.map((e) => h('li', { testid: 'endpoint' }, h('span', { class: 'badge badge-neutral' }, e.transport), ' ',
        h('code', {}, e.url)))
      : [h('li', { class: 'muted' }, 'No endpoints configured: set ', h('code', {}, 'ROOST_ADMIN_MQTT_ENDPOINTS'), ' on roost-admin.')]));
    const c = doc.cluster || {};
    brokers.value.textContent = kindText(c.broker);
    brokers.value.className = `stat-value ${c.broker?.down ? 'text-danger' : ''}`;
    authd.value.textContent = kindText(c.authd);
    authd.value.className = `stat-value ${!c.authd?.up ? 'text-danger' : ''}`;
    const f = c.forwarder;
    forwarders.value.textContent = f && f.up + f.draining + f.down ? kindText(f) : 'None';
    redis.value.textContent = c.redis === 'reachable' ? 'Reachable' : 'Unreachable';
    redis.value.className = `stat-value ${c.redis === 'reachable' ? '' : 'text-danger'}`;
    const now = doc.now || {};
    conns.value.textContent = fmtNum(now.connections);
    msgsIn.value.textContent = fmtNum(now.messages_in_total);
    msgsOut.value.textContent = fmtNum(now.messages_out_total);
    accepted.value.textContent = fmtNum(now.connects_accepted_total);
    refused.value.textContent = fmtNum(now.connects_refused_total);
    hist.add(doc.series);
    for (const ch of charts) ch.update(hist, uPlot);
    updated.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { hourCycle: 'h23' })}`;
  }

  let stop = () => {};
  const onResize = () => charts.forEach((c) => c.resize());
  window.addEventListener('resize', onResize);
  loadUplot().then((u) => {
    uPlot = u;
    stop = poll((cursor) => api.overview(cursor), render, (err) => banner(bannerEl, err));
  });
  return () => { stop(); window.removeEventListener('resize', onResize); charts.forEach((c) => c.destroy()); };
}
