// Group Rules: which clients join which groups (Match By / Value / Groups).
import * as api from '../api.js';
import {
  h, icon, pageHeader, reconnectNotice, banner, loading, field, showError,
  clearFieldErrors, setBusy, toast, confirmDialog, rowMenu, Pager, MATCH_BY,
} from '../ui.js';
import { listPage, th } from '../listpage.js';

const state = { pager: new Pager(20) };

async function groupNames() {
  const all = await api.listAll(api.groups);
  return new Map(all.map((g) => [g.id, g.name]));
}

function chips(ids, names) {
  if (!ids?.length) return h('span', { class: 'muted' }, 'No groups');
  return h('span', { class: 'chips' }, ids.map((gid) => h('span', { class: 'chip', testid: 'rule-group-chip' }, names.get(gid) || gid)));
}

// A page of rules, with the names of their groups and of the clients the
// `client` rules point at.
async function fetchRules(params) {
  const [page, names] = await Promise.all([api.rules.list(params), groupNames()]);
  const items = page?.items || [];
  const clientIds = [...new Set(items.filter((r) => r.match_by === 'client').map((r) => r.value))];
  const clientsById = new Map();
  await Promise.all(clientIds.map((cid) => api.clients.get(cid).then((c) => clientsById.set(cid, c)).catch(() => {})));
  return { ...page, names, clientsById };
}

function valueCell(r, clientsById) {
  if (r.match_by === 'client') {
    const c = clientsById.get(r.value);
    return c
      ? h('span', {}, h('a', { href: `#/clients/${encodeURIComponent(c.id)}` }, c.name), h('span', { class: 'row-sub' }, ` ${c.username}`))
      : h('span', { class: 'muted', title: r.value }, 'Deleted client');
  }
  return h('code', {}, r.value);
}

export function list(main) {
  const page = listPage(main, {
    state,
    title: 'Group Rules',
    subtitle: 'A rule matches connecting clients and puts them in groups. A client gets the combined permissions of every group its matching rules give.',
    create: { href: '#/rules/new', label: 'New rule', testid: 'new-rule' },
    loadingText: 'Loading rules…',
    nouns: ['rule', 'rules'],
    fetch: fetchRules,
    table: { testid: 'rules-table' },
    columns: [th('Match By'), th('Value'), th('Groups')],
    row: (r, { names, clientsById }) => h('tr', { testid: 'rule-row', 'data-id': r.id },
      h('td', {}, h('a', { href: `#/rules/${encodeURIComponent(r.id)}`, class: 'row-title', testid: 'rule-link' }, MATCH_BY[r.match_by] || r.match_by)),
      h('td', { class: 'cell-wrap' }, valueCell(r, clientsById)),
      h('td', {}, chips(r.groups, names)),
      h('td', { class: 'col-actions' }, rowMenu({
        label: `Actions for rule ${MATCH_BY[r.match_by] || r.match_by} ${r.value}`,
        testid: 'rule-menu',
        items: [
          { label: 'Edit', icon: 'edit', testid: 'rule-edit', onSelect: () => { location.hash = `#/rules/${encodeURIComponent(r.id)}`; } },
          { label: 'Delete', icon: 'trash', danger: true, testid: 'rule-delete', onSelect: () => remove(r) },
        ],
      }))),
    empty: { title: 'No group rules yet', text: 'Without a rule, a client can connect but may not publish or subscribe to anything.' },
  });

  async function remove(r) {
    const ok = await confirmDialog({
      title: 'Delete rule?',
      body: h('div', {},
        h('p', {}, 'Delete the rule matching ', h('strong', {}, MATCH_BY[r.match_by] || r.match_by), ' ', h('code', { testid: 'confirm-name' }, r.value), '?'),
        h('p', { class: 'muted' }, 'Clients it matched lose these groups the next time they connect.')),
      confirmLabel: 'Delete rule',
      action: () => api.rules.remove(r.id),
    });
    if (ok) { toast('Rule deleted.'); page.load(); }
  }

  return page.stop;
}

// ---------------------------------------------------------------- new / edit

const VALUE_HINTS = {
  client: 'The client created on the Clients page.',
  mqtt_client_id: h('span', {}, 'The client id a device sends in CONNECT: exact text, or ', h('code', {}, '*'), ' as a wildcard (', h('code', {}, 'sensor-*'), ').'),
  certificate_fingerprint: h('span', {}, 'The SHA-256 fingerprint of the device certificate, as ', h('code', {}, 'SHA256:…'), '. Used once mutual TLS is on.'),
};

export function edit(main, { id }) {
  const isNew = !id;
  const bannerEl = h('div', {});
  let alive = true;

  const matchBy = h('select', { name: 'match_by', class: 'input', testid: 'rule-match-by' },
    Object.entries(MATCH_BY).map(([v, label]) => h('option', { value: v }, label)));
  const valueText = h('input', { type: 'text', name: 'value', class: 'input mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', testid: 'rule-value' });
  const valueClient = h('select', { name: 'value_client', class: 'input', testid: 'rule-client' }, h('option', { value: '' }, 'Loading clients…'));
  const valueField = field({ label: 'Value', name: 'value', control: valueText, hint: ' ' });
  valueText.after(valueClient);
  const valueLabel = valueField.querySelector('label');
  const valueHint = valueField.querySelector('.field-hint');

  const clientIds = h('textarea', { name: 'allowed_client_ids', class: 'input mono', rows: 3, spellcheck: 'false', autocapitalize: 'off', placeholder: '%u-*', testid: 'rule-client-ids' });
  const groupFilter = h('input', { type: 'search', class: 'input input-sm', placeholder: 'Filter groups', 'aria-label': 'Filter groups', testid: 'rule-groups-filter' });
  const groupList = h('div', { class: 'checklist', role: 'group', 'aria-label': 'Groups', testid: 'rule-groups' }, loading('Loading groups…'));
  const selectedInfo = h('span', { class: 'muted', 'aria-live': 'polite', testid: 'rule-groups-count' });
  const groupsField = h('fieldset', { class: 'field', 'data-field': 'groups' },
    h('legend', { class: 'field-label' }, 'Groups'),
    h('p', { class: 'field-hint' }, 'The groups a matching client joins. Pick one or more. ', selectedInfo),
    groupFilter, groupList,
    h('p', { class: 'field-error', role: 'alert', hidden: true }));

  const syncValue = () => {
    const isClient = matchBy.value === 'client';
    valueText.hidden = isClient;
    valueClient.hidden = !isClient;
    valueLabel.htmlFor = isClient ? valueClient.id || (valueClient.id = `${valueText.id}-client`) : valueText.id;
    valueLabel.textContent = isClient ? 'Client' : matchBy.value === 'mqtt_client_id' ? 'MQTT Client ID' : 'Certificate Fingerprint';
    valueClient.setAttribute('aria-describedby', valueText.getAttribute('aria-describedby'));
    const hint = VALUE_HINTS[matchBy.value];
    valueHint.replaceChildren(typeof hint === 'string' ? hint : hint.cloneNode(true));
    valueText.placeholder = matchBy.value === 'mqtt_client_id' ? 'sensor-*' : matchBy.value === 'certificate_fingerprint' ? 'SHA256:…' : '';
  };
  matchBy.addEventListener('change', syncValue);

  const updateCount = () => {
    const n = groupList.querySelectorAll('input:checked').length;
    selectedInfo.textContent = n ? `${n} selected.` : '';
  };
  groupFilter.addEventListener('input', () => {
    const q = groupFilter.value.trim().toLowerCase();
    for (const el of groupList.querySelectorAll('.check')) el.hidden = q && !el.dataset.name.toLowerCase().includes(q);
  });

  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'rule-save' }, isNew ? 'Create rule' : 'Save changes');
  const form = h('form', { class: 'form card card-pad', novalidate: true, testid: 'rule-form' },
    field({ label: 'Match By', name: 'match_by', control: matchBy, hint: 'What a connecting client is matched on.' }),
    valueField,
    groupsField,
    field({ label: 'Allowed MQTT client ids', name: 'allowed_client_ids', control: clientIds, optional: true,
      hint: 'One per line: exact, * for any run of characters, %u for the username. A client this rule matches must connect with one of them (else CONNACK 5). Blank: any.' }),
    h('div', { class: 'form-actions' },
      h('a', { href: '#/rules', class: 'btn btn-secondary', testid: 'rule-cancel' }, 'Cancel'),
      submit));

  main.append(
    pageHeader({ title: isNew ? 'New group rule' : 'Edit group rule', back: { href: '#/rules', label: 'Group Rules' } }),
    reconnectNotice(isNew ? 'New rules' : 'Changes to this rule'),
    bannerEl,
    form);
  syncValue();

  form.hidden = true;
  const spin = loading('Loading…');
  form.before(spin);
  Promise.all([
    api.listAll(api.groups),
    api.listAll(api.clients),
    isNew ? null : api.rules.get(id),
  ]).then(([groups, clients, rule]) => {
    if (!alive) return;
    spin.remove();
    const chosen = new Set(rule?.groups || []);
    const clientOpts = clients.map((c) => h('option', { value: c.id, selected: rule?.match_by === 'client' && rule.value === c.id }, `${c.name} (${c.username})`));
    if (rule?.match_by === 'client' && !clients.some((c) => c.id === rule.value)) {
      clientOpts.unshift(h('option', { value: rule.value, selected: true }, `Deleted client (${rule.value})`));
    }
    valueClient.replaceChildren(h('option', { value: '' }, clients.length ? 'Choose a client…' : 'No clients yet'), ...clientOpts);
    groupList.replaceChildren(...(groups.length ? groups.map((g) => {
      const cb = h('input', { type: 'checkbox', value: g.id, checked: chosen.has(g.id), testid: 'rule-group-option', 'data-name': g.name, onchange: updateCount });
      return h('label', { class: 'check', 'data-name': g.name }, cb,
        h('span', { class: 'check-text' }, h('span', { class: 'check-name' }, g.name),
          g.description ? h('span', { class: 'check-desc' }, g.description) : null));
    }) : [h('p', { class: 'muted' }, 'No groups yet. ', h('a', { href: '#/groups/new' }, 'Create a group'), ' first.')]));
    if (rule) {
      matchBy.value = rule.match_by;
      if (rule.match_by !== 'client') valueText.value = rule.value;
      clientIds.value = (rule.allowed_client_ids || []).join('\n');
    }
    syncValue();
    updateCount();
    form.hidden = false;
    matchBy.focus();
  }).catch((err) => {
    if (!alive) return;
    spin.remove();
    banner(bannerEl, err.status === 404 ? 'This rule does not exist any more.' : err);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    const body = {
      match_by: matchBy.value,
      value: matchBy.value === 'client' ? valueClient.value : valueText.value.trim(),
      groups: [...groupList.querySelectorAll('input:checked')].map((cb) => cb.value),
      allowed_client_ids: clientIds.value.split('\n').map((l) => l.trim()).filter(Boolean),
    };
    setBusy(submit, true, isNew ? 'Creating…' : 'Saving…');
    try {
      if (isNew) await api.rules.create(body);
      else await api.rules.update(id, body);
      if (!alive) return;
      toast(isNew ? 'Rule created.' : 'Rule saved. Devices pick up the change when they reconnect.');
      location.hash = '#/rules';
    } catch (err) {
      if (!alive) return;
      setBusy(submit, false);
      showError(form, bannerEl, err);
    }
  });

  return () => { alive = false; };
}
