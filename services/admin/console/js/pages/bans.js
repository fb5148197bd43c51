// Bans: refuse CONNECTs by MQTT client id, username or peer address/CIDR,
// for a while or until lifted. A new ban also disconnects the matching live
// connections on every broker; authd refuses their next CONNECT (CONNACK 5).
// Flapping detection adds bans here too (reason "flapping: …").
import * as api from '../api.js';
import {
  h, pageHeader, banner, field, showError, clearFieldErrors, setBusy, toast, confirmDialog, rowMenu, Pager, timeCell,
} from '../ui.js';
import { listPage, th } from '../listpage.js';

const KINDS = { client_id: 'MQTT client id', username: 'Username', cidr: 'Address or CIDR' };
const state = { pager: new Pager(50) };

export function list(main) {
  const page = listPage(main, {
    state,
    title: 'Bans',
    subtitle: 'Refused at CONNECT before any password is checked; a new ban also disconnects matching devices on every broker at once.',
    create: { href: '#/bans/new', label: 'New ban', testid: 'new-ban' },
    loadingText: 'Loading bans…',
    nouns: ['ban', 'bans'],
    fetch: () => api.bans.list(),
    table: { testid: 'bans-table' },
    columns: [th('Kind'), th('Value'), th('Reason'), th('Expires'), th('By')],
    row: (b) => h('tr', { testid: 'ban-row', 'data-id': b.id },
      h('td', {}, KINDS[b.kind] || b.kind),
      h('td', { class: 'mono', testid: 'ban-value' }, b.value),
      h('td', { testid: 'ban-reason' }, b.reason || '—'),
      h('td', { testid: 'ban-expires' }, b.expires_at ? timeCell(b.expires_at) : 'Never'),
      h('td', { class: 'muted' }, b.actor || '—'),
      h('td', { class: 'col-actions' }, rowMenu({
        label: `Actions for ban ${b.id}`,
        testid: 'ban-menu',
        items: [{ label: 'Lift ban', icon: 'trash', danger: true, testid: 'ban-delete', onSelect: () => lift(b) }],
      }))),
    empty: { title: 'No bans', text: 'Ban an MQTT client id, a username or an address range that misbehaves.' },
  });

  async function lift(b) {
    const ok = await confirmDialog({
      title: 'Lift ban?',
      body: h('p', {}, 'Let ', h('strong', {}, KINDS[b.kind] || b.kind), ' ', h('code', { testid: 'confirm-name' }, b.value), ' connect again?'),
      confirmLabel: 'Lift ban',
      action: () => api.bans.remove(b.id),
    });
    if (ok) { toast(`Ban on “${b.value}” lifted.`); page.load(); }
  }

  return page.stop;
}

export function edit(main) {
  const bannerEl = h('div', {});
  let alive = true;
  const kind = h('select', { name: 'kind', class: 'input', testid: 'ban-kind' },
    Object.entries(KINDS).map(([v, label]) => h('option', { value: v }, label)));
  const value = h('input', { type: 'text', name: 'value', class: 'input mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', testid: 'ban-value-input' });
  const reason = h('input', { type: 'text', name: 'reason', class: 'input', maxlength: 255, testid: 'ban-reason-input' });
  const expires = h('input', { type: 'number', name: 'expires_in_s', class: 'input', min: 1, step: 1, placeholder: 'never', testid: 'ban-expires-input' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'ban-save' }, 'Create ban');
  const form = h('form', { class: 'form card card-pad', novalidate: true, testid: 'ban-form' },
    field({ label: 'Kind', name: 'kind', control: kind }),
    field({ label: 'Value', name: 'value', control: value, hint: 'An MQTT client id or a username exactly, or an address (203.0.113.7) or range (203.0.113.0/24, 2001:db8::/32).' }),
    field({ label: 'Reason', name: 'reason', control: reason, optional: true }),
    field({ label: 'Expires in (seconds)', name: 'expires_in_s', control: expires, optional: true, hint: 'Blank: until lifted.' }),
    h('div', { class: 'form-actions' },
      h('a', { href: '#/bans', class: 'btn btn-secondary', testid: 'ban-cancel' }, 'Cancel'),
      submit));
  main.append(pageHeader({ title: 'New ban', back: { href: '#/bans', label: 'Bans' } }), bannerEl, form);
  setTimeout(() => value.focus());

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    const body = { kind: kind.value, value: value.value.trim() };
    if (reason.value.trim()) body.reason = reason.value.trim();
    if (expires.value.trim()) body.expires_in_s = Number(expires.value);
    setBusy(submit, true, 'Creating…');
    try {
      const saved = await api.bans.create(body);
      if (!alive) return;
      const kicked = saved?.kicked ? ` ${saved.kicked} connection${saved.kicked === 1 ? '' : 's'} closed.` : '';
      toast(`Ban on “${body.value}” created.${kicked}`);
      location.hash = '#/bans';
    } catch (err) {
      if (!alive) return;
      setBusy(submit, false);
      showError(form, bannerEl, err);
    }
  });

  return () => { alive = false; };
}
