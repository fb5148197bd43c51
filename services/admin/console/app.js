// Roost console: shell, sign-in and hash routing. Pages live in js/pages/.
import { getToken, setToken, checkToken, onUnauthorized } from './js/api.js';
import { h, icon, field, showError, setBusy } from './js/ui.js';
import * as clientsPage from './js/pages/clients.js';
import * as groupsPage from './js/pages/groups.js';
import * as rulesPage from './js/pages/rules.js';
import * as connectionsPage from './js/pages/connections.js';
import * as auditPage from './js/pages/audit.js';
import * as explainPage from './js/pages/explain.js';
import * as overviewPage from './js/pages/overview.js';
import * as instancesPage from './js/pages/instances.js';
import * as pipelinesPage from './js/pages/pipelines.js';
import * as mappingsPage from './js/pages/mappings.js';
import * as certificatesPage from './js/pages/certificates.js';
import * as bansPage from './js/pages/bans.js';

const NAV = [
  { href: '#/overview', label: 'Overview', icon: 'overview', testid: 'nav-overview' },
  { href: '#/instances', label: 'Instances', icon: 'instances', testid: 'nav-instances' },
  { href: '#/clients', label: 'Clients', icon: 'clients', testid: 'nav-clients' },
  { href: '#/groups', label: 'Groups', icon: 'groups', testid: 'nav-groups' },
  { href: '#/rules', label: 'Group Rules', icon: 'rules', testid: 'nav-rules' },
  { href: '#/connections', label: 'Connections', icon: 'connections', testid: 'nav-connections' },
  { href: '#/pipelines', label: 'Pipelines', icon: 'pipelines', testid: 'nav-pipelines' },
  { href: '#/mappings', label: 'Topic Mappings', icon: 'mappings', testid: 'nav-mappings' },
  { href: '#/certificates', label: 'Certificates', icon: 'certificates', testid: 'nav-certificates' },
  { href: '#/bans', label: 'Bans', icon: 'bans', testid: 'nav-bans' },
  { href: '#/audit', label: 'Audit log', icon: 'audit', testid: 'nav-audit' },
  { href: '#/explain', label: 'Explain access', icon: 'explain', testid: 'nav-explain' },
];

// [pattern, page render function]; render(main, params) may return a cleanup.
const ROUTES = [
  [/^\/overview$/, overviewPage.page],
  [/^\/instances$/, instancesPage.list],
  [/^\/instances\/(.+)$/, instancesPage.detail],
  [/^\/clients$/, clientsPage.list],
  [/^\/clients\/new$/, clientsPage.edit],
  [/^\/clients\/([^/]+)$/, clientsPage.edit],
  [/^\/groups$/, groupsPage.list],
  [/^\/groups\/new$/, groupsPage.edit],
  [/^\/groups\/([^/]+)$/, groupsPage.edit],
  [/^\/rules$/, rulesPage.list],
  [/^\/rules\/new$/, rulesPage.edit],
  [/^\/rules\/([^/]+)$/, rulesPage.edit],
  [/^\/connections$/, connectionsPage.list],
  [/^\/pipelines$/, pipelinesPage.list],
  [/^\/pipelines\/new$/, pipelinesPage.edit],
  [/^\/pipelines\/([^/]+)$/, pipelinesPage.edit],
  [/^\/mappings$/, mappingsPage.list],
  [/^\/mappings\/new$/, mappingsPage.edit],
  [/^\/mappings\/([^/]+)$/, mappingsPage.edit],
  [/^\/certificates$/, certificatesPage.page],
  [/^\/bans$/, bansPage.list],
  [/^\/bans\/new$/, bansPage.edit],
  [/^\/audit$/, auditPage.list],
  [/^\/explain$/, explainPage.page],
];

const app = document.getElementById('app');
let cleanup = null;
let loginNotice = '';

onUnauthorized(() => {
  setToken(null);
  loginNotice = 'Your session ended: the token was refused. Sign in again.';
  location.hash = '#/login';
});

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path, query: new URLSearchParams(qs || '') };
}

function route() {
  if (cleanup) { try { cleanup(); } catch { /* page already gone */ } cleanup = null; }
  const { path, query } = parseHash();
  if (!getToken()) {
    if (path !== '/login') { location.replace('#/login'); return; }
    renderLogin();
    return;
  }
  if (path === '/login' || path === '/') { location.replace('#/overview'); return; }
  const main = renderShell(path);
  for (const [re, render] of ROUTES) {
    const m = re.exec(path);
    if (m) {
      const params = { id: m[1] ? decodeURIComponent(m[1]) : null, query };
      cleanup = render(main, params) || null;
      document.title = `${main.querySelector('h1')?.textContent || 'Console'} · Roost`;
      main.querySelector('h1')?.focus({ preventScroll: true });
      return;
    }
  }
  main.append(h('div', { class: 'state state-empty' },
    h('h1', { tabindex: '-1' }, 'Page not found'),
    h('p', {}, h('a', { href: '#/clients' }, 'Go to Clients'))));
}

function renderShell(path) {
  const section = '#/' + path.split('/')[1];
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' },
    h('ul', {}, NAV.map((n) => h('li', {},
      h('a', { href: n.href, class: 'nav-link', testid: n.testid, 'aria-current': n.href === section ? 'page' : null },
        icon(n.icon), h('span', {}, n.label))))));
  const signOut = h('button', { type: 'button', class: 'btn-ghost signout', testid: 'sign-out', onclick: signOutNow },
    icon('out'), h('span', {}, 'Sign out'));
  const sidebar = h('aside', { class: 'sidebar' },
    h('a', { class: 'brand', href: '#/overview', 'aria-label': 'Roost console home' },
      h('img', { src: 'logo.svg', alt: '', width: 28, height: 28 }),
      h('span', { class: 'brand-name' }, 'Roost'),
      h('span', { class: 'brand-tag' }, 'MQTT')),
    nav,
    h('div', { class: 'sidebar-foot' }, signOut));
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  app.classList.remove('is-login');
  app.replaceChildren(sidebar, h('div', { class: 'content' }, main));
  return main;
}

function signOutNow() {
  setToken(null);
  loginNotice = 'You signed out.';
  location.hash = '#/login';
}

function renderLogin() {
  document.title = 'Sign in · Roost';
  const input = h('input', { type: 'password', name: 'token', class: 'input', autocomplete: 'off', spellcheck: 'false', testid: 'login-token', required: true });
  const bannerEl = h('div', {});
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'login-submit' }, 'Sign in');
  const form = h('form', { class: 'login-form', novalidate: true },
    bannerEl,
    field({ label: 'Admin token', name: 'token', control: input,
      hint: h('span', {}, 'On its first start roost-admin prints a new token once and keeps it in its token file (',
        h('code', {}, 'var/admin-token'), ' by default; ', h('code', {}, 'script/server'), ' shows the path). If you set ',
        h('code', {}, 'ROOST_ADMIN_TOKEN'), ', use that value.') }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      showError(form, bannerEl, { field: 'token', message: 'Enter the admin token.' });
      return;
    }
    setBusy(submit, true, 'Checking…');
    try {
      await checkToken(token);
      setToken(token);
      loginNotice = '';
      location.hash = '#/overview';
    } catch (err) {
      setBusy(submit, false);
      if (err.status === 401) showError(form, bannerEl, { field: 'token', message: 'This token was refused. Check it and try again.' });
      else showError(form, bannerEl, err);
    }
  });
  app.classList.add('is-login');
  app.replaceChildren(h('main', { id: 'main', class: 'login' },
    h('div', { class: 'login-card', testid: 'login-page' },
      h('div', { class: 'login-brand' }, h('img', { src: 'logo.svg', alt: '', width: 40, height: 40 }),
        h('div', {}, h('p', { class: 'brand-name' }, 'Roost'), h('p', { class: 'login-sub' }, 'MQTT broker console'))),
      h('h1', { class: 'login-title' }, 'Sign in'),
      loginNotice ? h('p', { class: 'login-notice', role: 'status', testid: 'login-notice' }, loginNotice) : null,
      form),
    h('p', { class: 'login-foot' }, 'The token stays in this browser tab only and is forgotten when you close it.')));
  input.focus();
}

window.addEventListener('hashchange', route);
route();
