// Groups: named bundles of ACL permissions (allow/deny, publish/subscribe, topic).
import * as api from '../api.js';
import {
  h, icon, pageHeader, reconnectNotice, banner, loading, field, showError,
  clearFieldErrors, setBusy, toast, confirmDialog, rowMenu, Pager,
} from '../ui.js';
import { listPage, th } from '../listpage.js';

const state = { search: '', pager: new Pager(20) };

export function list(main) {
  const page = listPage(main, {
    state,
    title: 'Groups',
    subtitle: 'A group bundles ACL permissions that allow or deny publishing and subscribing on topics. Group Rules put clients in groups.',
    create: { href: '#/groups/new', label: 'New group', testid: 'new-group' },
    search: { placeholder: 'Search by group name', label: 'Search groups', testid: 'groups-search' },
    loadingText: 'Loading groups…',
    nouns: ['group', 'groups'],
    fetch: (params) => api.groups.list(params),
    table: { testid: 'groups-table' },
    columns: [th('Name'), th('Description', 'hide-sm'), th('ACL Permissions', 'num')],
    row: (g) => h('tr', { testid: 'group-row', 'data-id': g.id, 'data-name': g.name },
      h('td', {}, h('a', { href: `#/groups/${encodeURIComponent(g.id)}`, class: 'row-title', testid: 'group-link' }, g.name)),
      h('td', { class: 'hide-sm muted' }, g.description || '—'),
      h('td', { class: 'num' }, h('span', { class: 'pill', testid: 'group-acl-count' }, `${(g.acl || []).length}`)),
      h('td', { class: 'col-actions' }, rowMenu({
        label: `Actions for ${g.name}`,
        testid: 'group-menu',
        items: [
          { label: 'Edit', icon: 'edit', testid: 'group-edit', onSelect: () => { location.hash = `#/groups/${encodeURIComponent(g.id)}`; } },
          { label: 'Delete', icon: 'trash', danger: true, testid: 'group-delete', onSelect: () => remove(g) },
        ],
      }))),
    empty: { title: 'No groups yet', text: 'Create a group with ACL permissions, then assign clients to it with a Group Rule.', matchTitle: 'No groups match your search' },
  });

  async function remove(g) {
    const ok = await confirmDialog({
      title: 'Delete group?',
      body: h('div', {},
        h('p', {}, 'Delete ', h('strong', { testid: 'confirm-name' }, g.name), ' and its ', `${(g.acl || []).length}`, ' ACL permissions?'),
        h('p', { class: 'muted' }, 'A group that a rule still uses cannot be deleted: remove it from those rules first. Connected devices keep their access until they reconnect.')),
      confirmLabel: 'Delete group',
      action: () => api.groups.remove(g.id),
    });
    if (ok) { toast(`Group “${g.name}” deleted.`); page.load(); }
  }

  return page.stop;
}

// ---------------------------------------------------------------- new / edit

export function edit(main, { id }) {
  const isNew = !id;
  const bannerEl = h('div', {});
  let alive = true;

  const name = h('input', { type: 'text', name: 'name', class: 'input', maxlength: 255, autocomplete: 'off', testid: 'group-name' });
  const description = h('textarea', { name: 'description', class: 'input', rows: 2, testid: 'group-description' });
  const msgRate = h('input', { type: 'number', name: 'max_msg_rate', class: 'input', min: 0, step: 1, placeholder: 'no limit', testid: 'group-max-msg-rate' });
  const byteRate = h('input', { type: 'number', name: 'max_byte_rate', class: 'input', min: 0, step: 1, placeholder: 'no limit', testid: 'group-max-byte-rate' });
  // blank: no limit (0); anything else goes as typed and the API says what is wrong with it
  const rate = (el) => (el.value.trim() === '' ? 0 : Number(el.value));
  const aclBody = h('div', { class: 'acl-rows', role: 'list', 'aria-label': 'ACL permissions' });
  const aclEmpty = h('p', { class: 'acl-empty muted', testid: 'acl-empty' }, 'No permissions yet: members of this group can connect but may not publish or subscribe to anything.');
  const addBtn = h('button', { type: 'button', class: 'btn btn-secondary', testid: 'acl-add' }, icon('plus'), 'Add permission');
  let entries = [];

  function renumber() {
    const rows = [...aclBody.children];
    rows.forEach((row, i) => {
      row.dataset.field = `acl.${i}`;
      row.querySelector('[data-role="topic"]').dataset.field = `acl.${i}.topic`;
      row.querySelector('.acl-index').textContent = String(i + 1);
      for (const el of row.querySelectorAll('[data-label]')) el.setAttribute('aria-label', `${el.dataset.label}, row ${i + 1}`);
      row.querySelector('[data-move="up"]').disabled = i === 0;
      row.querySelector('[data-move="down"]').disabled = i === rows.length - 1;
    });
    aclEmpty.hidden = rows.length > 0;
  }

  function addRow(entry = { permission: 'allow', action: 'publish', topic: '' }, focus = false) {
    const perm = h('select', { class: 'input', 'data-label': 'Permission', testid: 'acl-permission' },
      h('option', { value: 'allow', selected: entry.permission === 'allow' }, 'Allow'),
      h('option', { value: 'deny', selected: entry.permission === 'deny' }, 'Deny'));
    const action = h('select', { class: 'input', 'data-label': 'Action', testid: 'acl-action' },
      h('option', { value: 'publish', selected: entry.action === 'publish' }, 'Publish'),
      h('option', { value: 'subscribe', selected: entry.action === 'subscribe' }, 'Subscribe'));
    const topic = h('input', { type: 'text', class: 'input mono', 'data-label': 'Topic', placeholder: 'devices/%u/telemetry', value: entry.topic || '', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', testid: 'acl-topic' });
    const up = h('button', { type: 'button', class: 'btn-icon', 'data-move': 'up', 'data-label': 'Move up', title: 'Move up', testid: 'acl-up' }, icon('up'));
    const down = h('button', { type: 'button', class: 'btn-icon', 'data-move': 'down', 'data-label': 'Move down', title: 'Move down', testid: 'acl-down' }, icon('down'));
    const del = h('button', { type: 'button', class: 'btn-icon btn-icon-danger', 'data-label': 'Remove permission', title: 'Remove', testid: 'acl-remove' }, icon('trash'));
    const row = h('div', { class: 'acl-row', role: 'listitem', testid: 'acl-row' },
      h('span', { class: 'acl-index', 'aria-hidden': 'true' }),
      h('div', { class: 'acl-cell acl-perm' }, h('span', { class: 'cell-label' }, 'Permission'), perm),
      h('div', { class: 'acl-cell acl-action' }, h('span', { class: 'cell-label' }, 'Action'), action),
      h('div', { class: 'acl-cell acl-topic', 'data-role': 'topic' }, h('span', { class: 'cell-label' }, 'Topic'), topic,
        h('p', { class: 'field-error', role: 'alert', hidden: true })),
      h('div', { class: 'acl-tools' }, up, down, del));
    perm.addEventListener('change', () => row.classList.toggle('is-deny', perm.value === 'deny'));
    row.classList.toggle('is-deny', entry.permission === 'deny');
    up.addEventListener('click', () => {
      if (row.previousElementSibling) { aclBody.insertBefore(row, row.previousElementSibling); renumber(); (up.disabled ? down : up).focus(); }
    });
    down.addEventListener('click', () => {
      if (row.nextElementSibling) { aclBody.insertBefore(row.nextElementSibling, row); renumber(); (down.disabled ? up : down).focus(); }
    });
    del.addEventListener('click', () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      renumber();
      (next?.querySelector('[data-label="Topic"]') || addBtn).focus();
    });
    aclBody.append(row);
    renumber();
    if (focus) topic.focus();
  }
  addBtn.addEventListener('click', () => addRow(undefined, true));

  const readAcl = () => [...aclBody.children].map((row) => ({
    permission: row.querySelector('[data-label="Permission"]').value,
    action: row.querySelector('[data-label="Action"]').value,
    topic: row.querySelector('[data-label="Topic"]').value.trim(),
  }));

  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'group-save' }, isNew ? 'Create group' : 'Save changes');
  const form = h('form', { class: 'form card card-pad form-wide', novalidate: true, testid: 'group-form' },
    h('div', { class: 'form-grid' },
      field({ label: 'Name', name: 'name', control: name, hint: 'Unique. Shown in Group Rules and Connections.' }),
      field({ label: 'Description', name: 'description', control: description, optional: true }),
      field({ label: 'Messages per second', name: 'max_msg_rate', control: msgRate, optional: true,
        hint: 'PUBLISHes each member connection may send per second; past it the broker stops reading it until the rate allows (nothing is dropped). Blank: the broker’s own limit.' }),
      field({ label: 'Bytes per second', name: 'max_byte_rate', control: byteRate, optional: true,
        hint: 'The same for the bytes of those PUBLISHes. A member of several groups gets the highest limit any of them sets.' })),
    h('fieldset', { class: 'acl', 'data-field': 'acl' },
      h('legend', { class: 'field-label' }, 'ACL Permissions'),
      h('p', { class: 'field-hint' },
        'Checked together for every publish and subscribe. ', h('strong', {}, 'Deny wins over allow'), ', and anything no entry allows is denied. ',
        'Topics are MQTT filters: ', h('code', {}, '+'), ' matches one level, ', h('code', {}, '#'), ' every level below. ',
        h('code', {}, '%u'), ' stands for the username and ', h('code', {}, '%c'), ' for the MQTT client id, as a whole level (',
        h('code', {}, 'devices/%u/#'), ').'),
      h('div', { class: 'acl-head', 'aria-hidden': 'true' }, h('span', {}, '#'), h('span', {}, 'Permission'), h('span', {}, 'Action'), h('span', {}, 'Topic'), h('span', {})),
      aclBody, aclEmpty,
      h('p', { class: 'field-error', role: 'alert', hidden: true }),
      h('div', {}, addBtn)),
    h('div', { class: 'form-actions' },
      h('a', { href: '#/groups', class: 'btn btn-secondary', testid: 'group-cancel' }, 'Cancel'),
      submit));

  main.append(
    pageHeader({ title: isNew ? 'New group' : 'Edit group', back: { href: '#/groups', label: 'Groups' } }),
    reconnectNotice(isNew ? 'New permissions' : 'Changes to this group'),
    bannerEl,
    form);

  let original = null;
  if (!isNew) {
    form.hidden = true;
    const spin = loading('Loading group…');
    form.before(spin);
    api.groups.get(id).then((g) => {
      if (!alive) return;
      spin.remove();
      original = g;
      name.value = g.name || '';
      description.value = g.description || '';
      msgRate.value = g.max_msg_rate ? String(g.max_msg_rate) : '';
      byteRate.value = g.max_byte_rate ? String(g.max_byte_rate) : '';
      (g.acl || []).forEach((e) => addRow(e));
      renumber();
      form.hidden = false;
      main.querySelector('h1').textContent = `Edit group: ${g.name}`;
    }).catch((err) => {
      if (!alive) return;
      spin.remove();
      banner(bannerEl, err.status === 404 ? 'This group does not exist any more.' : err);
    });
  } else {
    addRow();
    setTimeout(() => name.focus());
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    const body = { name: name.value.trim(), description: description.value.trim(), acl: readAcl(),
      max_msg_rate: rate(msgRate), max_byte_rate: rate(byteRate) };
    if (!isNew) {
      if (body.name === original.name) delete body.name;
      if (body.description === (original.description || '')) delete body.description;
    }
    setBusy(submit, true, isNew ? 'Creating…' : 'Saving…');
    try {
      const saved = isNew ? await api.groups.create(body) : await api.groups.update(id, body);
      if (!alive) return;
      toast(isNew ? `Group “${saved?.name ?? body.name}” created.` : `Group “${saved?.name ?? name.value}” saved. Devices pick up the change when they reconnect.`);
      location.hash = '#/groups';
    } catch (err) {
      if (!alive) return;
      setBusy(submit, false);
      showError(form, bannerEl, err);
    }
  });

  return () => { alive = false; };
}
