// Topic Mappings: a topic filter (+, #) -> a pipeline. Many-to-many: one
// filter may feed several pipelines, a pipeline may have several filters.
// Changes apply to new messages within a second.
import * as api from '../api.js';
import {
  h, pageHeader, banner, loading, field, showError, clearFieldErrors, setBusy, toast, confirmDialog, rowMenu, Pager,
} from '../ui.js';
import { listPage, th } from '../listpage.js';

const state = { search: '', pager: new Pager(20) };

export function list(main) {
  const page = listPage(main, {
    state,
    title: 'Topic Mappings',
    subtitle: 'Messages published on a topic that matches a mapping’s filter are forwarded to its pipeline. Changes apply to new messages within a second.',
    create: { href: '#/mappings/new', label: 'New mapping', testid: 'new-mapping' },
    search: { placeholder: 'Search by topic', label: 'Search topic mappings', testid: 'mappings-search' },
    loadingText: 'Loading topic mappings…',
    nouns: ['mapping', 'mappings'],
    fetch: (params) => api.mappings.list(params),
    table: { testid: 'mappings-table' },
    columns: [th('Topic'), th('Pipeline')],
    row: (m) => h('tr', { testid: 'mapping-row', 'data-id': m.id, 'data-topic': m.topic },
      h('td', { class: 'mono' }, h('a', { href: `#/mappings/${encodeURIComponent(m.id)}`, class: 'row-title', testid: 'mapping-link' }, m.topic)),
      h('td', {}, h('a', { href: `#/pipelines/${encodeURIComponent(m.pipeline)}`, testid: 'mapping-pipeline' }, m.pipeline_name || m.pipeline)),
      h('td', { class: 'col-actions' }, rowMenu({
        label: `Actions for ${m.topic}`,
        testid: 'mapping-menu',
        items: [
          { label: 'Edit', icon: 'edit', testid: 'mapping-edit', onSelect: () => { location.hash = `#/mappings/${encodeURIComponent(m.id)}`; } },
          { label: 'Delete', icon: 'trash', danger: true, testid: 'mapping-delete', onSelect: () => remove(m) },
        ],
      }))),
    empty: { title: 'No topic mappings yet', text: 'Map a topic filter such as devices/+/telemetry to a pipeline.', matchTitle: 'No mappings match your search' },
  });

  async function remove(m) {
    const ok = await confirmDialog({
      title: 'Delete topic mapping?',
      body: h('p', {}, 'Stop forwarding ', h('strong', { class: 'mono', testid: 'confirm-name' }, m.topic), ' to ', m.pipeline_name || m.pipeline, '?'),
      confirmLabel: 'Delete mapping',
      action: () => api.mappings.remove(m.id),
    });
    if (ok) { toast(`Mapping “${m.topic}” deleted.`); page.load(); }
  }

  return page.stop;
}

export function edit(main, { id }) {
  const isNew = !id;
  const bannerEl = h('div', {});
  let alive = true;

  const topic = h('input', { type: 'text', name: 'topic', class: 'input mono', placeholder: 'devices/+/telemetry', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', testid: 'mapping-topic' });
  const pipeline = h('select', { name: 'pipeline', class: 'input', testid: 'mapping-pipeline-input' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'mapping-save' }, isNew ? 'Create mapping' : 'Save changes');
  const form = h('form', { class: 'form card card-pad', novalidate: true, testid: 'mapping-form' },
    field({ label: 'Topic', name: 'topic', control: topic, hint: 'An MQTT filter: + matches one level, # every level below.' }),
    field({ label: 'Pipeline', name: 'pipeline', control: pipeline }),
    h('div', { class: 'form-actions' },
      h('a', { href: '#/mappings', class: 'btn btn-secondary', testid: 'mapping-cancel' }, 'Cancel'),
      submit));

  main.append(
    pageHeader({ title: isNew ? 'New topic mapping' : 'Edit topic mapping', back: { href: '#/mappings', label: 'Topic Mappings' } }),
    bannerEl,
    form);

  form.hidden = true;
  const spin = loading('Loading…');
  form.before(spin);
  let original = null;
  Promise.all([api.listAll(api.pipelines), isNew ? null : api.mappings.get(id)]).then(([pipes, m]) => {
    if (!alive) return;
    spin.remove();
    pipeline.replaceChildren(...pipes.map((p) => h('option', { value: p.id }, p.name)));
    if (!pipes.length) {
      banner(bannerEl, 'Create a pipeline first: a mapping sends messages to one.');
      return;
    }
    if (m) {
      original = m;
      topic.value = m.topic;
      pipeline.value = m.pipeline;
      main.querySelector('h1').textContent = `Edit topic mapping: ${m.topic}`;
    }
    form.hidden = false;
    topic.focus();
  }).catch((err) => {
    if (!alive) return;
    spin.remove();
    banner(bannerEl, err.status === 404 ? 'This mapping does not exist any more.' : err);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    const body = { topic: topic.value.trim(), pipeline: pipeline.value };
    if (original) {
      if (body.topic === original.topic) delete body.topic;
      if (body.pipeline === original.pipeline) delete body.pipeline;
    }
    setBusy(submit, true, isNew ? 'Creating…' : 'Saving…');
    try {
      await (isNew ? api.mappings.create(body) : api.mappings.update(id, body));
      if (!alive) return;
      toast(isNew ? `Mapping “${body.topic}” created.` : 'Mapping saved.');
      location.hash = '#/mappings';
    } catch (err) {
      if (!alive) return;
      setBusy(submit, false);
      showError(form, bannerEl, err);
    }
  });

  return () => { alive = false; };
}
