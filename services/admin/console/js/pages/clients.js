// Clients: the credentials devices connect with (seed: TagoDeploy's MQTT Clients page).
import * as api from '../api.js';
import {
  h, icon, pageHeader, reconnectNotice, banner, loading, field, showError,
  clearFieldErrors, setBusy, toast, confirmDialog, rowMenu, Pager, timeCell, AUTH_TYPES,
} from '../ui.js';
import { listPage, th } from '../listpage.js';

const state = { search: '', pager: new Pager(20) };
// Phone-width labels for the Authentication Type column.
const AUTH_SHORT = { username_password: 'Password', certificate: 'Certificate', both: 'Both' };

export function list(main) {
  const page = listPage(main, {
    state,
    title: 'Clients',
    subtitle: 'Credentials that devices use to connect to the broker. Group Rules decide what each client may do.',
    create: { href: '#/clients/new', label: 'New client', testid: 'new-client' },
    search: { placeholder: 'Search by name or username', label: 'Search clients', testid: 'clients-search' },
    loadingText: 'Loading clients…',
    nouns: ['client', 'clients'],
    fetch: (params) => api.clients.list(params),
    table: { testid: 'clients-table' },
    columns: [
      th('Name'),
      th([h('span', { class: 'th-long' }, 'Authentication Type'), h('span', { class: 'th-short' }, 'Auth Type')], 'cell-auth'),
      th('Last changed', 'hide-md'),
    ],
    row: (c) => h('tr', { testid: 'client-row', 'data-id': c.id, 'data-name': c.name },
      h('td', {},
        h('a', { href: `#/clients/${encodeURIComponent(c.id)}`, class: 'row-title', testid: 'client-link' }, c.name),
        h('div', { class: 'row-sub' }, c.username)),
      h('td', { class: 'cell-auth', testid: 'client-auth-type' },
        h('span', { class: 'th-long' }, AUTH_TYPES[c.auth_type] || c.auth_type || '—'),
        h('span', { class: 'th-short' }, AUTH_SHORT[c.auth_type] || c.auth_type || '—')),
      h('td', { class: 'hide-md' }, timeCell(c.updated_at || c.created_at)),
      h('td', { class: 'col-actions' }, rowMenu({
        label: `Actions for ${c.name}`,
        testid: 'client-menu',
        items: [
          { label: 'Edit', icon: 'edit', testid: 'client-edit', onSelect: () => { location.hash = `#/clients/${encodeURIComponent(c.id)}`; } },
          { label: 'Delete', icon: 'trash', danger: true, testid: 'client-delete', onSelect: () => remove(c) },
        ],
      }))),
    empty: { title: 'No clients yet', text: 'Create a client to give a device a username and password.', matchTitle: 'No clients match your search' },
  });

  async function remove(c) {
    const ok = await confirmDialog({
      title: 'Delete client?',
      body: h('div', {},
        h('p', {}, 'Delete ', h('strong', { testid: 'confirm-name' }, c.name), ' (username ', h('code', {}, c.username), ')?'),
        h('p', { class: 'muted' }, 'Devices using these credentials that are connected now stay connected; their next connection attempt will be refused. This cannot be undone.')),
      confirmLabel: 'Delete client',
      action: () => api.clients.remove(c.id),
    });
    if (ok) { toast(`Client “${c.name}” deleted.`); page.load(); }
  }

  return page.stop;
}

// ---------------------------------------------------------------- new / edit

const PW_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.~!@%^*';

// A uniformly random password from crypto.getRandomValues (rejection sampling
// so no character is more likely than another).
export function generatePassword(length = 24) {
  const n = PW_ALPHABET.length;
  const limit = 256 - (256 % n);
  let out = '';
  const buf = new Uint8Array(64);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      if (b < limit && out.length < length) out += PW_ALPHABET[b % n];
    }
  }
  return out;
}

export function edit(main, { id }) {
  const isNew = !id;
  const bannerEl = h('div', {});
  let alive = true;

  const name = h('input', { type: 'text', name: 'name', class: 'input', maxlength: 255, autocomplete: 'off', testid: 'client-name' });
  const clientIds = h('textarea', { name: 'allowed_client_ids', class: 'input mono', rows: 3, spellcheck: 'false', autocapitalize: 'off', placeholder: '%u-*', testid: 'client-ids' });
  const idLines = () => clientIds.value.split('\n').map((l) => l.trim()).filter(Boolean);
  const username = h('input', { type: 'text', name: 'username', class: 'input mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', testid: 'client-username' });
  const password = h('input', { type: 'password', name: 'password', class: 'input mono', autocomplete: 'new-password', spellcheck: 'false', autocapitalize: 'off', testid: 'client-password',
    placeholder: isNew ? '' : 'Leave empty to keep the current password' });
  const toggle = h('button', { type: 'button', class: 'btn btn-secondary btn-addon', 'aria-pressed': 'false', 'aria-label': 'Show password', testid: 'password-toggle' }, icon('eye'), h('span', { class: 'addon-label' }, 'Show'));
  const gen = h('button', { type: 'button', class: 'btn btn-secondary btn-addon', testid: 'password-generate' }, icon('dice'), h('span', { class: 'addon-label' }, 'Generate'));
  const copy = h('button', { type: 'button', class: 'btn btn-secondary btn-addon', testid: 'password-copy', 'aria-label': 'Copy password' }, icon('copy'));

  const setShown = (shown) => {
    password.type = shown ? 'text' : 'password';
    toggle.setAttribute('aria-pressed', String(shown));
    toggle.setAttribute('aria-label', shown ? 'Hide password' : 'Show password');
    toggle.replaceChildren(icon(shown ? 'eyeOff' : 'eye'), h('span', { class: 'addon-label' }, shown ? 'Hide' : 'Show'));
  };
  toggle.addEventListener('click', () => setShown(password.type === 'password'));
  gen.addEventListener('click', () => {
    password.value = generatePassword();
    setShown(true);
    password.dispatchEvent(new Event('input'));
    password.focus();
    password.select();
  });
  copy.addEventListener('click', async () => {
    if (!password.value) return;
    try {
      await navigator.clipboard.writeText(password.value);
      toast('Password copied to the clipboard.');
    } catch {
      setShown(true);
      password.select();
      toast('Select the password and copy it with Ctrl+C.', 'info');
    }
  });

  const certificate = h('textarea', { name: 'certificate', class: 'input mono', rows: 5, spellcheck: 'false', autocomplete: 'off',
    placeholder: '-----BEGIN CERTIFICATE-----', testid: 'client-certificate' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'client-save' }, isNew ? 'Create client' : 'Save changes');
  const form = h('form', { class: 'form card card-pad', novalidate: true, testid: 'client-form' },
    field({ label: 'Client Name', name: 'name', control: name, hint: 'A descriptive name to find this client in the console (1–255 characters).' }),
    field({ label: 'Username', name: 'username', control: username, hint: h('span', {}, 'What devices send as the MQTT username. Unique; no ', h('code', {}, '+'), ' ', h('code', {}, '#'), ' or ', h('code', {}, '/'), '.') }),
    field({ label: 'Password', name: 'password', control: password, optional: !isNew,
      extra: h('div', { class: 'addons' }, toggle, gen, copy),
      hint: isNew ? 'At least 8 characters. Use Generate for a strong random one, and copy it now: it cannot be shown again.'
        : 'At least 8 characters. Leave empty to keep the current password. Connected devices are not cut off.' }),
    field({ label: 'Certificate', name: 'certificate', control: certificate, optional: true,
      hint: isNew ? 'PEM of the device’s TLS certificate (mutual TLS). With a certificate and no username, the device connects with the certificate alone; with both, both must match.'
        : 'PEM of a new device certificate, replacing the stored one. Leave empty to keep it.' }),
    field({ label: 'Allowed MQTT client ids', name: 'allowed_client_ids', control: clientIds, optional: true,
      hint: 'One per line: exact, * for any run of characters, %u for the username. Any other id gets CONNACK 5, so this credential cannot take over another device’s session. Blank: any.' }),
    h('div', { class: 'form-actions' },
      h('a', { href: '#/clients', class: 'btn btn-secondary', testid: 'client-cancel' }, 'Cancel'),
      submit));

  const meta = h('div', {});
  main.append(
    pageHeader({ title: isNew ? 'New client' : 'Edit client', back: { href: '#/clients', label: 'Clients' },
      subtitle: isNew ? 'Give a device a username and password to connect with.' : null }),
    reconnectNotice(isNew ? 'New credentials' : 'Changes to this client'),
    bannerEl,
    h('div', { class: 'form-layout' }, form, meta));

  let original = null;
  if (!isNew) {
    form.hidden = true;
    const spin = loading('Loading client…');
    form.before(spin);
    api.clients.get(id).then((c) => {
      if (!alive) return;
      spin.remove();
      original = c;
      name.value = c.name || '';
      username.value = c.username || '';
      clientIds.value = (c.allowed_client_ids || []).join('\n');
      form.hidden = false;
      main.querySelector('h1').textContent = `Edit client: ${c.name}`;
      meta.replaceChildren(h('dl', { class: 'meta card card-pad' },
        h('dt', {}, 'Authentication Type'), h('dd', {}, AUTH_TYPES[c.auth_type] || c.auth_type),
        h('dt', {}, 'Password'), h('dd', {}, c.password_set ? 'Set' : 'Not set'),
        c.certificate ? [
          h('dt', {}, 'Certificate'), h('dd', { class: 'mono', testid: 'client-cert-fingerprint' }, c.certificate.fingerprint),
          h('dt', {}, 'Subject'), h('dd', { class: 'mono', testid: 'client-cert-subject' }, c.certificate.subject),
          h('dt', {}, 'Serial'), h('dd', { class: 'mono' }, c.certificate.serial),
          h('dt', {}, 'Valid until'), h('dd', {}, timeCell(c.certificate.not_after)),
        ] : null,
        h('dt', {}, 'Client id'), h('dd', { class: 'mono' }, c.id),
        h('dt', {}, 'Created'), h('dd', {}, timeCell(c.created_at)),
        h('dt', {}, 'Last changed'), h('dd', {}, timeCell(c.updated_at))));
      name.focus();
    }).catch((err) => {
      if (!alive) return;
      spin.remove();
      banner(bannerEl, err.status === 404 ? 'This client does not exist any more.' : err);
    });
  } else {
    meta.replaceChildren(h('div', { class: 'aside card card-pad' },
      h('h2', { class: 'aside-title' }, 'What happens next'),
      h('ol', { class: 'steps' },
        h('li', {}, 'A device connects with this username and password.'),
        h('li', {}, h('a', { href: '#/rules' }, 'Group Rules'), ' decide which groups the client joins.'),
        h('li', {}, 'The ', h('a', { href: '#/groups' }, 'groups'), '’ ACL permissions decide what it may publish and subscribe to. With no rule, it can connect but do nothing.'))));
    setTimeout(() => name.focus());
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    const body = {};
    const pem = certificate.value.trim();
    if (isNew) {
      body.name = name.value.trim();
      // a certificate client may have no credentials: send them when given
      if (!pem || username.value || password.value) Object.assign(body, { username: username.value, password: password.value });
      if (pem) body.certificate = certificate.value;
      if (idLines().length) body.allowed_client_ids = idLines();
    } else {
      if (pem) body.certificate = certificate.value;
      if (name.value.trim() !== original.name) body.name = name.value.trim();
      if (username.value !== (original.username || '')) body.username = username.value;
      if (password.value !== '') body.password = password.value;
      if (idLines().join('\n') !== (original.allowed_client_ids || []).join('\n')) body.allowed_client_ids = idLines();
      if (!Object.keys(body).length) {
        toast('Nothing to save: no field changed.', 'info');
        return;
      }
    }
    setBusy(submit, true, isNew ? 'Creating…' : 'Saving…');
    try {
      const saved = isNew ? await api.clients.create(body) : await api.clients.update(id, body);
      if (!alive) return;
      toast(isNew ? `Client “${saved?.name ?? body.name}” created.` : `Client “${saved?.name ?? name.value}” saved. Devices pick up the change when they reconnect.`);
      location.hash = '#/clients';
    } catch (err) {
      if (!alive) return;
      setBusy(submit, false);
      showError(form, bannerEl, err);
    }
  });

  return () => { alive = false; };
}
