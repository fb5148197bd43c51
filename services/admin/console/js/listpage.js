// A paged list page (Clients, Groups, Group Rules, Pipelines, Topic Mappings,
// Audit log): a header with its "New" button, an optional search box, a table
// with a pager, empty states, and a banner when loading fails. Each page says
// only what differs: its words, how to fetch a page, its columns and its rows.
//
//   const page = listPage(main, {
//     state,                       // { search?, pager } kept across visits
//     title, subtitle,
//     create: { href, label, testid },            // optional "New …" button
//     search: { placeholder, label, testid },     // optional search box
//     loadingText, nouns: ['group', 'groups'],
//     fetch: (params) => page,     // {items, next_cursor, total, ...}
//     table: { testid, dense },
//     columns: [th, …],            // header cells; an Actions column is added
//     actions: true,               //   unless actions is false
//     row: (item, page) => tr,
//     empty: { title, text, matchTitle },
//   });
//   page.load() reloads (after a delete), page.banner(err) shows an error above
//   the table, page.stop() is the page's cleanup.
import { h, icon, pageHeader, banner, loading, emptyState, pagerBar, searchBox } from './ui.js';

export function listPage(main, o) {
  const { state } = o;
  const bannerEl = h('div', {});
  const body = h('div', { class: 'card' });
  const actions = o.actions !== false;
  let alive = true;

  const newLink = (testid) => h('a', { href: o.create.href, class: 'btn btn-primary', testid }, icon('plus'), o.create.label);
  const parts = [
    pageHeader({ title: o.title, subtitle: o.subtitle, actions: o.create ? [newLink(o.create.testid)] : [] }),
    bannerEl,
  ];
  if (o.search) {
    parts.push(h('div', { class: 'toolbar' },
      searchBox({ placeholder: o.search.placeholder, label: o.search.label, value: state.search, testid: o.search.testid,
        onSearch: (q) => { state.search = q; state.pager.reset(); load(); } })));
  }
  main.append(...parts, body);

  async function load() {
    body.replaceChildren(loading(o.loadingText));
    banner(bannerEl, null);
    try {
      const params = { limit: state.pager.limit, cursor: state.pager.cursor };
      if (o.search) params.search = state.search;
      const page = await o.fetch(params, () => alive);
      if (!alive) return;
      state.pager.next = page?.next_cursor || null;
      state.total = Number.isFinite(page?.total) ? page.total : null;
      render(page?.items || [], page);
    } catch (err) {
      if (!alive) return;
      body.replaceChildren();
      banner(bannerEl, err);
    }
  }

  function render(items, page) {
    if (!items.length) {
      body.replaceChildren(state.search && o.empty.matchTitle
        ? emptyState({ title: o.empty.matchTitle, text: `Nothing matches “${state.search}”.` })
        : emptyState({ title: o.empty.title, text: o.empty.text, action: o.create ? newLink() : null }));
      if (state.pager.hasPrev) body.append(pagerBar(state.pager, 0, load, o.nouns[1]));
      return;
    }
    const head = [...o.columns];
    if (actions) head.push(h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'sr-only' }, 'Actions')));
    body.replaceChildren(
      h('div', { class: 'table-wrap' },
        h('table', { class: o.table.dense ? 'table table-dense' : 'table', testid: o.table.testid },
          h('thead', {}, h('tr', {}, head)),
          h('tbody', {}, items.map((item) => o.row(item, page))))),
      pagerBar(state.pager, items.length, load, o.nouns, state.total));
  }

  load();
  return { load, banner: (err) => banner(bannerEl, err), stop: () => { alive = false; } };
}

// A header cell: th('Name'), th('Details', 'hide-sm').
export function th(label, cls) {
  return h('th', cls ? { scope: 'col', class: cls } : { scope: 'col' }, label);
}
