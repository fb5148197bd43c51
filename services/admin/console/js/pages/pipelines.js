// Pipelines: HTTP APIs that mapped topics are forwarded to (roost-forwarder).
// Tokens are write-only: the API answers "********" when one is set, and the
// edit form never shows one (leave empty to keep, "Clear" to remove).
import * as api from '../api.js';
import {
  h, pageHeader, banner, loading, field, showError, clearFieldErrors, setBusy, toast, confirmDialog, rowMenu, Pager,
  fmtRelative,
} from '../ui.js';
import { listPage, th } from '../listpage.js';

const state = { search: '', pager: new Pager(20) };

function statusCell(p) {
  const d = p.delivery || {};
  const paused = p.status === 'paused';
  const err = d.last_error && (!d.last_ok_at || d.last_error_at > d.last_ok_at) ? d.last_error : null;
  return h('td', { class: 'pipeline-status-cell' },
    h('span', { class: `badge badge-${paused ? 'neutral' : 'good'}`, testid: 'pipeline-status' }, paused ? 'Paused' : 'Active'),
    Number(d.queued) ? h('span', { class: 'muted', testid: 'pipeline-queued' }, ` ${d.queued} queued`) : null,
    err ? h('p', { class: 'field-error pipeline-error', testid: 'pipeline-error', title: d.last_error_at || '' },
      `Last error: ${err}${d.last_error_at ? ` (${fmtRelative(d.last_error_at)})` : ''}`) : null);
}

export function list(main) {
  const page = listPage(main, {
    state,
    title: 'Pipelines',
    subtitle: 'A pipeline is an HTTP API that receives the messages of the topics mapped to it (Topic Mappings), at least once, as JSON.',
    create: { href: '#/pipelines/new', label: 'New pipeline', testid: 'new-pipeline' },
    search: { placeholder: 'Search by name or URL', label: 'Search pipelines', testid: 'pipelines-search' },
    loadingText: 'Loading pipelines…',
    nouns: ['pipeline', 'pipelines'],
    fetch: (params) => api.pipelines.list(params),
    table: { testid: 'pipelines-table' },
    columns: [th('Name / Description'), th('Status'), th('API URL', 'hide-sm'), th('Network Token'), th('Authorization Token')],
    row: (p) => h('tr', { testid: 'pipeline-row', 'data-id': p.id, 'data-name': p.name },
      h('td', {}, h('a', { href: `#/pipelines/${encodeURIComponent(p.id)}`, class: 'row-title', testid: 'pipeline-link' }, p.name),
        p.description ? h('div', { class: 'muted hide-sm', testid: 'pipeline-description-text' }, p.description) : null),
      statusCell(p),
      h('td', { class: 'mono hide-sm pipeline-url', testid: 'pipeline-url' }, p.url),
      h('td', { class: 'mono', testid: 'pipeline-network-token' }, p.network_token || '—'),
      h('td', { class: 'mono', testid: 'pipeline-authorization-token' }, p.authorization_token || '—'),
      h('td', { class: 'col-actions' }, rowMenu({
        label: `Actions for ${p.name}`,
        testid: 'pipeline-menu',
        items: [
          { label: 'Edit', icon: 'edit', testid: 'pipeline-edit', onSelect: () => { location.hash = `#/pipelines/${encodeURIComponent(p.id)}`; } },
          { label: p.status === 'paused' ? 'Resume' : 'Pause', icon: 'refresh', testid: 'pipeline-toggle', onSelect: () => toggle(p) },
          { label: 'Delete', icon: 'trash', danger: true, testid: 'pipeline-delete', onSelect: () => remove(p) },
        ],
      }))),
    empty: { title: 'No pipelines yet', text: 'Create a pipeline for your backend’s HTTP API, then map topics to it.', matchTitle: 'No pipelines match your search' },
  });

  async function toggle(p) {
    const status = p.status === 'paused' ? 'active' : 'paused';
    try {
      await api.pipelines.update(p.id, { status });
      toast(status === 'paused' ? `Pipeline “${p.name}” paused: its queue keeps filling.` : `Pipeline “${p.name}” resumed.`);
      page.load();
    } catch (err) {
      page.banner(err);
    }
  }

  async function remove(p) {
    const ok = await confirmDialog({
      title: 'Delete pipeline?',
      body: h('div', {},
        h('p', {}, 'Delete ', h('strong', { testid: 'confirm-name' }, p.name), ' and the messages still queued for it?'),
        h('p', { class: 'muted' }, 'A pipeline that topic mappings still feed cannot be deleted: delete those mappings first.')),
      confirmLabel: 'Delete pipeline',
      action: () => api.pipelines.remove(p.id),
    });
    if (ok) { toast(`Pipeline “${p.name}” deleted.`); page.load(); }
  }

  return page.stop;
}

// ---------------------------------------------------------------- new / edit

const NUMBERS = [
  ['batch_size', 'Batch size', 'Messages per request: 1 sends one JSON object per request, more a JSON array (1-1000).'],
  ['linger_ms', 'Linger (ms)', 'How long a partial batch may wait for more messages (0-60000).'],
  ['max_attempts', 'Max attempts', 'Failed deliveries (5xx, timeouts) before a message goes to the dead-letter queue (1-1000).'],
  ['max_queue', 'Max queue', 'Messages kept while the API is unreachable or the pipeline is paused; newer ones are dropped and counted (1-10000000).'],
  ['timeout_ms', 'Timeout (ms)', 'Per HTTP request (100-120000).'],
  ['max_age_s', 'Max age (s)', 'Messages older than this are dropped and counted when the next one arrives; 0: no age cap (0-31536000).'],
];

function tokenControl(name, testid, isNew) {
  const input = h('input', { type: 'password', name, class: 'input mono', autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'off', testid, placeholder: isNew ? 'Optional' : 'Leave empty to keep the current token' });
  return input;
}

export function edit(main, { id }) {
  const isNew = !id;
  const bannerEl = h('div', {});
  let alive = true;

  const name = h('input', { type: 'text', name: 'name', class: 'input', maxlength: 255, autocomplete: 'off', testid: 'pipeline-name' });
  const description = h('textarea', { name: 'description', class: 'input', rows: 2, testid: 'pipeline-description' });
  const url = h('input', { type: 'url', name: 'url', class: 'input mono', placeholder: 'https://api.example.com/mqtt', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', testid: 'pipeline-url-input' });
  const status = h('select', { name: 'status', class: 'input', testid: 'pipeline-status-input' },
    h('option', { value: 'active' }, 'Active'), h('option', { value: 'paused' }, 'Paused'));
  const auth = tokenControl('authorization_token', 'pipeline-auth-token', isNew);
  const net = tokenControl('network_token', 'pipeline-net-token', isNew);
  const clearAuth = h('input', { type: 'checkbox', testid: 'pipeline-auth-clear' });
  const clearNet = h('input', { type: 'checkbox', testid: 'pipeline-net-clear' });
  const nums = Object.fromEntries(NUMBERS.map(([k]) => [k, h('input', { type: 'number', name: k, class: 'input', testid: `pipeline-${k}` })]));

  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'pipeline-save' }, isNew ? 'Create pipeline' : 'Save changes');
  const form = h('form', { class: 'form card card-pad form-wide', novalidate: true, testid: 'pipeline-form' },
    h('div', { class: 'form-grid' },
      field({ label: 'Name', name: 'name', control: name, hint: 'Unique. Shown in Topic Mappings.' }),
      field({ label: 'Description', name: 'description', control: description, optional: true }),
      field({ label: 'API URL', name: 'url', control: url, hint: 'http:// or https:// (certificates are verified). Messages are POSTed here as JSON.' }),
      field({ label: 'Status', name: 'status', control: status, hint: 'A paused pipeline keeps its queue and sends it when resumed.' }),
      field({ label: 'Authorization Token', name: 'authorization_token', control: auth, optional: true,
        hint: 'Sent as “Authorization: Bearer <token>”. Write-only: never shown again.',
        extra: isNew ? null : h('label', { class: 'check' }, clearAuth, ' Clear') }),
      field({ label: 'Network Token', name: 'network_token', control: net, optional: true,
        hint: 'Sent as “X-Network-Token: <token>”. Write-only.',
        extra: isNew ? null : h('label', { class: 'check' }, clearNet, ' Clear') }),
      NUMBERS.map(([k, label, hint]) => field({ label, name: k, control: nums[k], hint, optional: true }))),
    h('div', { class: 'form-actions' },
      h('a', { href: '#/pipelines', class: 'btn btn-secondary', testid: 'pipeline-cancel' }, 'Cancel'),
      submit));

  main.append(
    pageHeader({ title: isNew ? 'New pipeline' : 'Edit pipeline', back: { href: '#/pipelines', label: 'Pipelines' } }),
    bannerEl,
    form);

  let original = null;
  if (!isNew) {
    form.hidden = true;
    const spin = loading('Loading pipeline…');
    form.before(spin);
    api.pipelines.get(id).then((p) => {
      if (!alive) return;
      spin.remove();
      original = p;
      name.value = p.name || '';
      description.value = p.description || '';
      url.value = p.url || '';
      status.value = p.status || 'active';
      for (const [k] of NUMBERS) nums[k].value = String(p[k]);
      form.hidden = false;
      main.querySelector('h1').textContent = `Edit pipeline: ${p.name}`;
    }).catch((err) => {
      if (!alive) return;
      spin.remove();
      banner(bannerEl, err.status === 404 ? 'This pipeline does not exist any more.' : err);
    });
  } else {
    setTimeout(() => name.focus());
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    const body = { name: name.value.trim(), description: description.value.trim(), url: url.value.trim(), status: status.value };
    if (auth.value) body.authorization_token = auth.value;
    else if (clearAuth.checked) body.authorization_token = '';
    if (net.value) body.network_token = net.value;
    else if (clearNet.checked) body.network_token = '';
    for (const [k] of NUMBERS) {
      const v = nums[k].value.trim();
      if (v !== '') body[k] = Number.isInteger(Number(v)) ? Number(v) : v;
    }
    if (!isNew) {
      for (const k of ['name', 'description', 'url', 'status', ...NUMBERS.map(([n]) => n)]) {
        if (k in body && body[k] === original[k]) delete body[k];
      }
    }
    setBusy(submit, true, isNew ? 'Creating…' : 'Saving…');
    try {
      const saved = isNew ? await api.pipelines.create(body) : await api.pipelines.update(id, body);
      if (!alive) return;
      auth.value = '';
      net.value = '';
      toast(isNew ? `Pipeline “${saved?.name ?? body.name}” created.` : `Pipeline “${saved?.name ?? name.value}” saved.`);
      location.hash = '#/pipelines';
    } catch (err) {
      if (!alive) return;
      setBusy(submit, false);
      showError(form, bannerEl, err);
    }
  });

  return () => { alive = false; };
}
