// Explain: what would the broker decide for this device, and why.
import * as api from '../api.js';
import { h, pageHeader, field, showError, clearFieldErrors, banner, setBusy } from '../ui.js';

export function page(main) {
  const bannerEl = h('div', {});
  const result = h('div', { 'aria-live': 'polite', testid: 'explain-result' });
  let alive = true;

  const username = h('input', { type: 'text', name: 'username', class: 'input mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', testid: 'explain-username' });
  const clientId = h('input', { type: 'text', name: 'mqtt_client_id', class: 'input mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', testid: 'explain-client-id' });
  const action = h('select', { name: 'action', class: 'input', testid: 'explain-action' },
    h('option', { value: 'publish' }, 'Publish'), h('option', { value: 'subscribe' }, 'Subscribe'));
  const topic = h('input', { type: 'text', name: 'topic', class: 'input mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', placeholder: 'devices/sensor-1/telemetry', testid: 'explain-topic' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'explain-submit' }, 'Explain');
  const form = h('form', { class: 'form card card-pad', novalidate: true, testid: 'explain-form' },
    h('div', { class: 'form-grid' },
      field({ label: 'Username', name: 'username', control: username }),
      field({ label: 'MQTT Client ID', name: 'mqtt_client_id', control: clientId }),
      field({ label: 'Action', name: 'action', control: action }),
      field({ label: 'Topic', name: 'topic', control: topic, hint: 'A topic for publish, a filter for subscribe.' })),
    h('div', { class: 'form-actions' }, submit));

  main.append(
    pageHeader({ title: 'Explain access', subtitle: 'Ask what the broker would decide for a device, which groups its rules give it, and which ACL entry decides.' }),
    bannerEl,
    h('div', { class: 'form-layout' }, form, result));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    setBusy(submit, true, 'Asking…');
    try {
      const r = await api.explain({ username: username.value, mqtt_client_id: clientId.value, action: action.value, topic: topic.value.trim() });
      if (!alive) return;
      render(r);
    } catch (err) {
      if (!alive) return;
      result.replaceChildren();
      showError(form, bannerEl, err);
    } finally {
      if (alive) setBusy(submit, false);
    }
  });

  function entryText(entry) {
    if (entry && typeof entry === 'object') {
      return `${entry.permission ?? ''} ${entry.action ?? ''} ${entry.topic ?? ''}`.trim();
    }
    return entry === undefined || entry === null ? '' : `entry ${Number(entry) + 1}`;
  }

  function render(r) {
    const allowed = String(r?.decision).toLowerCase() === 'allow' || r?.decision === true || String(r?.decision).toLowerCase() === 'allowed';
    const groups = r?.groups || [];
    result.replaceChildren(h('div', { class: `card card-pad verdict ${allowed ? 'verdict-allow' : 'verdict-deny'}` },
      h('p', { class: 'verdict-title', testid: 'explain-decision' }, allowed ? 'Allowed' : 'Denied'),
      r?.reason ? h('p', { class: 'verdict-reason' }, r.reason.charAt(0).toUpperCase() + r.reason.slice(1)) : null,
      h('dl', { class: 'meta' },
        h('dt', {}, 'Groups from rules'),
        h('dd', {}, groups.length ? h('span', { class: 'chips' }, groups.map((g) => h('span', { class: 'chip' }, typeof g === 'object' ? g.name || g.id : g))) : 'None'),
        h('dt', {}, 'Deciding entry'),
        h('dd', { testid: 'explain-matched' }, r?.matched
          ? h('span', {}, h('strong', {}, typeof r.matched.group === 'object' ? r.matched.group.name : r.matched.group), ': ', h('code', {}, entryText(r.matched.entry)))
          : 'No entry matched (denied by default)'))));
  }

  setTimeout(() => username.focus());
  return () => { alive = false; };
}
