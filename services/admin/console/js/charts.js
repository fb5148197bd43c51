// Live time-series charts for the Overview and Instances pages, drawn by
// uPlot (fetched from npm by the build, served by admin under /vendor/).
// A History holds the points the API returned (at most an hour) and grows
// by polling with ?cursor=<last time>; a chart redraws from it in place.

import { h } from './ui.js';

const HOUR_POINTS = 1800;
let uplotLoad = null;

// Loads uPlot once; resolves to the uPlot constructor, or null when the
// build could not fetch it (npm missing): pages then show numbers only.
export function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uplotLoad) {
    uplotLoad = new Promise((resolve) => {
      const css = h('link', { rel: 'stylesheet', href: 'vendor/uPlot.min.css' });
      const js = h('script', { src: 'vendor/uPlot.iife.min.js' });
      js.onload = () => resolve(window.uPlot || null);
      js.onerror = () => resolve(null);
      document.head.append(css, js);
    });
  }
  return uplotLoad;
}

// Points by series name, aligned on t (unix ms), trimmed to an hour.
export class History {
  constructor() { this.t = []; this.s = {}; }

  get last() { return this.t.length ? this.t[this.t.length - 1] : 0; }

  // Appends a `series` document ({t: [...], name: [...], ...}).
  add(series) {
    const t = series?.t || [];
    if (!t.length) return;
    const before = this.t.length;
    for (const [name, vals] of Object.entries(series)) {
      if (name === 't') continue;
      if (!this.s[name]) this.s[name] = new Array(before).fill(null);
      this.s[name].push(...vals);
    }
    this.t.push(...t);
    for (const vals of Object.values(this.s)) while (vals.length < this.t.length) vals.push(null);
    const extra = this.t.length - HOUR_POINTS;
    if (extra > 0) {
      this.t.splice(0, extra);
      for (const vals of Object.values(this.s)) vals.splice(0, extra);
    }
  }

  latest(name) {
    const v = this.s[name];
    for (let i = (v?.length || 0) - 1; i >= 0; i--) if (v[i] != null) return v[i];
    return null;
  }
}

const COLORS = ['#2f4fd8', '#18794a', '#c42f2a', '#b7791f', '#7c3aed', '#0e7490', '#be185d'];

// A chart card: title, the latest value(s) as text (for people and tests),
// and the plot. lines: [{name, label, scale?}]; fmt formats a value.
export function chartCard({ title, lines, fmt = (v) => fmtNum(v), testid }) {
  const legend = h('div', { class: 'chart-legend' });
  const plot = h('div', { class: 'chart-plot', 'aria-hidden': 'true' });
  const card = h('section', { class: 'card chart-card', testid, 'aria-label': title },
    h('h2', { class: 'chart-title' }, title), legend, plot);
  let chart = null;
  return {
    el: card,
    update(hist, uPlot) {
      legend.replaceChildren(...lines.map((l, i) => h('span', { class: 'chart-value', testid: `${testid}-${l.name}` },
        h('span', { class: 'swatch', style: `background:${COLORS[i % COLORS.length]}` }),
        `${l.label}: `, h('strong', {}, fmt(hist.latest(l.name))))));
      if (!uPlot) {
        if (!plot.firstChild) plot.append(h('p', { class: 'muted chart-missing' }, 'Charts need uPlot, which this build did not fetch (npm missing).'));
        return;
      }
      const data = [hist.t.map((t) => t / 1000), ...lines.map((l) => hist.s[l.name] || hist.t.map(() => null))];
      if (!chart) {
        const width = Math.max(plot.clientWidth || 0, 280);
        chart = new uPlot({
          width, height: 160, legend: { show: false }, cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true } },
          axes: [{ stroke: '#646c7c', grid: { stroke: '#eef0f3' } },
            { stroke: '#646c7c', grid: { stroke: '#eef0f3' }, size: 64, values: (u, vals) => vals.map((v) => fmt(v)) }],
          series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false }))],
        }, data, plot);
        plot.setAttribute('data-points', String(hist.t.length));
      } else {
        chart.setData(data);
        plot.setAttribute('data-points', String(hist.t.length));
      }
    },
    resize() { if (chart) chart.setSize({ width: Math.max(plot.clientWidth, 280), height: 160 }); },
    destroy() { if (chart) chart.destroy(); chart = null; },
  };
}

export function fmtNum(v) {
  if (v == null || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)} G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 1 : 2)} M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  if (Number.isInteger(v)) return String(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtBytes(v) {
  if (v == null) return '—';
  if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(2)} GiB`;
  if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(v >= 10 * (1 << 20) ? 1 : 2)} MiB`;
  return `${(v / 1024).toFixed(0)} KiB`;
}

export function fmtPct(v) { return v == null ? '—' : `${v.toFixed(Math.abs(v) < 10 ? 2 : 1)} %`; }

export function fmtUptime(s) {
  if (s == null) return '—';
  if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}

// Polls fetch(cursor) every interval ms while the page lives; fetch returns
// the document, onDoc consumes it. Returns a stop function.
export function poll(fetchDoc, onDoc, onError, interval = 2000) {
  let alive = true;
  let timer = null;
  let cursor = null;
  async function tick() {
    try {
      const doc = await fetchDoc(cursor);
      if (!alive) return;
      const t = doc?.series?.t;
      if (t?.length) cursor = t[t.length - 1];
      onDoc(doc);
    } catch (err) {
      if (alive) onError(err);
    }
    if (alive) timer = setTimeout(tick, document.hidden ? interval * 3 : interval);
  }
  tick();
  return () => { alive = false; clearTimeout(timer); };
}
