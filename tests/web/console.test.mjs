// Browser test of the Roost web console against the whole local stack
// (redis-server, roost-admin, roost-authd, roost-broker), driven through
// Debian's Chromium with playwright-core. Devices are Debian's mosquitto
// clients. Screenshots of every page go to tests/web/out/.
//
// The scenario (issue 4): sign in; create a client in the console (with an
// API error shown under its field first); create a group and a group rule
// through the console so the device may use a topic; connect a device with the
// client's credentials and keep it publishing while its password is edited in
// the console; it stays connected; a reconnect with the old password is
// refused and with the new one accepted; delete the client through the
// three-dot menu and its confirmation; the next reconnect is refused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, Device, BIN, missingBinary, runClient } from './stack.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'out');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const missing = missingBinary();
let playwright = null;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = null;
}
const skip = missing ? `needs ${missing}; build the tree (ROOST_BUILD_DIR) and run script/bootstrap`
  : !playwright ? 'playwright-core is not installed (cd tests/web && npm ci)' : false;

const CLIENT = { name: 'Boiler room 7', username: 'boiler-7' };
const GROUP = { name: 'boilers', description: 'Boilers publish their telemetry and read their commands' };
const TOPIC = `plants/${CLIENT.username}/telemetry`;

describe('web console', { skip }, () => {
  let stack;
  let context;
  let page;
  let userDataDir;
  let broken = null;
  let firstPassword;
  let secondPassword;
  const devices = [];
  const pageErrors = [];

  // Steps depend on each other: after a failure the rest are skipped.
  const step = (name, fn) => it(name, async (t) => {
    if (broken) { t.skip(`an earlier step failed: ${broken}`); return; }
    try {
      await fn(t);
    } catch (err) {
      broken = name;
      await shot(`failed-${name.replace(/\W+/g, '-').slice(0, 40)}`).catch(() => {});
      if (stack) t.diagnostic(stack.logs());
      throw err;
    }
  });

  async function shot(name, fullPage = true, { keepToasts = false } = {}) {
    if (!keepToasts) await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
    await page.waitForTimeout(250); // let transitions and focus rings settle
    const file = path.join(OUT, `${name}.png`);
    await page.screenshot({ path: file, fullPage });
    return file;
  }

  const tid = (id) => page.getByTestId(id);
  const mqttArgs = (password, clientId) => ['-h', '127.0.0.1', '-p', String(stack.mqttPort), '-V', 'mqttv311',
    '-u', CLIENT.username, '-P', password, '-i', clientId];

  async function publishOnce(password, clientId) {
    return runClient(BIN.mosquittoPub, [...mqttArgs(password, clientId), '-t', TOPIC, '-m', `probe from ${clientId}`, '-q', '1']);
  }

  function assertRefused(r, what) {
    assert.notEqual(r.code, 0, `${what}: mosquitto_pub should fail, it exited 0: ${r.out}`);
    assert.match(r.out, /not authori[sz]ed|bad user ?name or password|refused/i, `${what}: expected a refusal, got: ${r.out}`);
  }

  async function openRowMenu(name) {
    const row = page.locator(`[data-testid="client-row"][data-name="${name}"]`);
    await row.getByTestId('client-menu').click();
    await row.getByRole('menu').waitFor();
    return row;
  }

  before(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    stack = new Stack(OUT);
    await stack.start();
    userDataDir = fs.mkdtempSync('/tmp/roost-web-chromium-');
    context = await playwright.chromium.launchPersistentContext(userDataDir, {
      executablePath: BIN.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: LAPTOP,
      timeout: 60000,
    });
    // Only the stack under test: any other request fails loudly.
    await context.route(/^(?!http:\/\/127\.0\.0\.1:\d+\/)/, (route) => route.abort());
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    for (const d of devices) await d.stop();
    if (context) await context.close().catch(() => {});
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (stack) await stack.stop();
  });

  step('sign in with the admin token', async () => {
    await page.goto(`${stack.base}/`);
    await tid('login-page').waitFor();
    await shot('01-login');
    await tid('login-token').fill('not-the-token');
    await tid('login-submit').click();
    await assert.doesNotReject(tid('error-token').waitFor({ state: 'visible' }), 'a wrong token is refused next to the field');
    await tid('login-token').fill(stack.token);
    await tid('login-submit').click();
    await tid('overview-page').waitFor(); // the landing page (overview.test.mjs tests it)
    await tid('nav-clients').click();
    await tid('empty-state').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('roost.admin.token')), stack.token);
  });

  step('an API error shows under its field (5-character password)', async () => {
    await tid('new-client').click();
    await tid('client-form').waitFor();
    await tid('reconnect-notice').waitFor();
    await tid('client-name').fill(CLIENT.name);
    await tid('client-username').fill(CLIENT.username);
    await tid('client-password').fill('abcde');
    await tid('client-save').click();
    const err = tid('error-password');
    await err.waitFor({ state: 'visible' });
    assert.match(await err.textContent(), /8/, 'the message names the minimum length');
    assert.equal(await tid('client-password').getAttribute('aria-invalid'), 'true');
    assert.equal(await tid('error-banner').count(), 0, 'a field error is not shown as a banner');
    assert.match(page.url(), /#\/clients\/new$/, 'still on the form');
    await shot('03-new-client-field-error');
  });

  step('create a client with a generated password', async () => {
    await tid('password-generate').click();
    firstPassword = await tid('client-password').inputValue();
    assert.ok(firstPassword.length >= 20, `generated password is long: ${firstPassword.length}`);
    assert.equal(await tid('client-password').getAttribute('type'), 'text', 'generate shows the password');
    await tid('password-toggle').click();
    assert.equal(await tid('client-password').getAttribute('type'), 'password', 'the toggle hides it again');
    await shot('03-new-client-generated');
    await tid('client-save').click();
    await page.waitForURL(/#\/clients$/);
    const row = tid('client-row').filter({ hasText: CLIENT.name });
    await row.waitFor();
    assert.match(await row.textContent(), /Username\/Password/);
  });

  step('pagination and search on the clients page', async () => {
    // 22 more clients through the API, so the list has two pages of 20.
    for (let i = 1; i <= 22; i++) {
      const n = String(i).padStart(2, '0');
      const res = await fetch(`${stack.base}/api/v1/clients`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: `Fleet sensor ${n}`, username: `fleet-${n}`, password: `fleet-password-${n}` }),
      });
      assert.equal(res.status, 201, `create fleet-${n}: ${await res.text()}`);
    }
    await page.reload();
    await tid('clients-table').waitFor();
    assert.equal(await tid('client-row').count(), 20, 'first page holds 20');
    assert.equal(await tid('page-prev').isDisabled(), true);
    await tid('page-next').click();
    await tid('page-info').filter({ hasText: 'Page 2' }).waitFor();
    assert.equal(await tid('client-row').count(), 3, 'second page holds the rest');
    assert.equal(await tid('page-next').isDisabled(), true);
    await tid('page-prev').click();
    await tid('page-info').filter({ hasText: 'Page 1' }).waitFor();
    assert.equal(await tid('client-row').count(), 20);
    await tid('clients-search').fill('boiler');
    await tid('clients-search').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="client-row"]').length === 1);
    assert.match(await tid('client-row').textContent(), new RegExp(CLIENT.name));
    await tid('clients-search').fill('');
    await tid('clients-search').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="client-row"]').length === 20);
    await shot('02-clients');
  });

  step('create a group with ACL permissions', async () => {
    await tid('nav-groups').click();
    await tid('new-group').click();
    await tid('group-form').waitFor();
    await tid('group-name').fill(GROUP.name);
    await tid('group-description').fill(GROUP.description);
    await tid('group-max-msg-rate').fill('50');
    // The new group starts with one row: allow publish.
    await tid('acl-topic').first().fill('plants/%u/telemetry');
    await tid('acl-add').click();
    const second = tid('acl-row').nth(1);
    await second.getByTestId('acl-action').selectOption('subscribe');
    await second.getByTestId('acl-topic').fill('plants/%u/#');
    await tid('acl-add').click();
    const third = tid('acl-row').nth(2);
    await third.getByTestId('acl-permission').selectOption('deny');
    await third.getByTestId('acl-topic').fill('plants/%u/telemetry/secret');
    // Reorder: move the deny entry up one place.
    await third.getByTestId('acl-up').click();
    assert.equal(await tid('acl-row').nth(1).getByTestId('acl-permission').inputValue(), 'deny');
    await tid('group-save').click();
    await page.waitForURL(/#\/groups$/);
    const row = tid('group-row').filter({ hasText: GROUP.name });
    await row.waitFor();
    assert.equal((await row.getByTestId('group-acl-count').textContent()).trim(), '3');
    await shot('05-groups');
    await row.getByTestId('group-link').click();
    await tid('acl-row').nth(2).waitFor();
    assert.equal(await tid('acl-topic').nth(1).inputValue(), 'plants/%u/telemetry/secret', 'order kept by the API');
    assert.equal(await tid('group-max-msg-rate').inputValue(), '50', 'the group rate limit stored');
    assert.equal(await tid('group-max-byte-rate').inputValue(), '', 'no byte limit: blank');
    await shot('06-group-edit');
    await tid('group-cancel').click();
    await page.waitForURL(/#\/groups$/);
  });

  step('create a group rule giving the client the group', async () => {
    await tid('nav-rules').click();
    await tid('new-rule').click();
    await tid('rule-form').waitFor();
    await tid('rule-match-by').selectOption('client');
    await tid('rule-client').selectOption({ label: `${CLIENT.name} (${CLIENT.username})` });
    await page.locator(`[data-testid="rule-group-option"][data-name="${GROUP.name}"]`).check();
    await tid('rule-client-ids').fill('boiler-7-*\n%u-spare');
    await shot('12-rule-edit');
    await tid('rule-save').click();
    await page.waitForURL(/#\/rules$/);
    const row = tid('rule-row').first();
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(`${GROUP.name}`));
    assert.match(await row.textContent(), new RegExp(CLIENT.name));
    await shot('07-rules');
    const rules = await page.evaluate(async () => (await (await fetch('/api/v1/group-rules', {
      headers: { Authorization: `Bearer ${sessionStorage.getItem('roost.admin.token')}` } })).json()).items);
    assert.deepEqual(rules[0].allowed_client_ids, ['boiler-7-*', '%u-spare'], 'the rule keeps its allowed client ids');
  });

  step('a device connects with the credentials and publishes', async () => {
    const mon = new Device('monitor', BIN.mosquittoSub, [...mqttArgs(firstPassword, 'boiler-7-monitor'), '-t', TOPIC, '-q', '1', '-v']);
    devices.push(mon);
    const dev = new Device('device', BIN.mosquittoPub, [...mqttArgs(firstPassword, 'boiler-7-device'), '-t', TOPIC, '-q', '1', '-l']);
    devices.push(dev);
    // The subscription may land a moment after the CONNACK: publish until seen.
    for (let i = 1; i <= 20 && !mon.out.includes('before-edit'); i++) {
      dev.send(`before-edit ${i}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await mon.waitFor('before-edit');
    assert.equal(dev.exited, null, `device still running: ${dev.out}`);
  });

  step('the connections page lists the live device', async () => {
    await tid('nav-connections').click();
    const row = page.locator('[data-testid="connection-row"][data-mqtt-client-id="boiler-7-device"]');
    for (let i = 0; i < 20 && !(await row.count()); i++) {
      await page.waitForTimeout(500);
      await tid('connections-refresh').click();
      await page.waitForLoadState('domcontentloaded');
    }
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(GROUP.name), 'the device has the group from the rule');
    await shot('08-connections');
  });

  step('edit the password in the console while the device keeps publishing', async () => {
    await tid('nav-clients').click();
    const row = await openRowMenu(CLIENT.name);
    await row.getByTestId('client-edit').click();
    await tid('client-form').waitFor();
    await tid('reconnect-notice').waitFor();
    assert.equal(await tid('client-name').inputValue(), CLIENT.name);
    assert.equal(await tid('client-password').inputValue(), '', 'the password is never shown');
    await tid('password-generate').click();
    secondPassword = await tid('client-password').inputValue();
    assert.notEqual(secondPassword, firstPassword);
    await tid('client-ids').fill('boiler-7-*');
    await shot('04-edit-client');
    await tid('client-save').click();
    await page.waitForURL(/#\/clients$/);
    await tid('client-row').filter({ hasText: CLIENT.name }).waitFor();

    const [mon, dev] = devices;
    for (let i = 1; i <= 3; i++) dev.send(`after-edit ${i}`);
    await mon.waitFor('after-edit 3');
    assert.equal(dev.exited, null, `the device stayed connected: ${dev.out}`);
    assert.equal(mon.exited, null, `the monitor stayed connected: ${mon.out}`);
  });

  step('a reconnect with the old password is refused, with the new one accepted', async () => {
    assertRefused(await publishOnce(firstPassword, 'boiler-7-old'), 'old password');
    const ok = await publishOnce(secondPassword, 'boiler-7-new');
    assert.equal(ok.code, 0, `new password accepted: ${ok.out}`);
    assertRefused(await publishOnce(secondPassword, 'someone-else'), 'a client id outside the list set in the console');
    await devices[0].waitFor('probe from boiler-7-new');
  });

  step('the audit log lists the changes', async () => {
    await tid('nav-audit').click();
    await tid('audit-table').waitFor();
    assert.ok(await tid('audit-row').count() >= 4, 'client create + update, group create, rule create');
    await shot('09-audit');
  });

  step('the explain page says which entry decides', async () => {
    await tid('nav-explain').click();
    await tid('explain-form').waitFor();
    await tid('explain-username').fill(CLIENT.username);
    await tid('explain-client-id').fill('boiler-7-device');
    await tid('explain-topic').fill(TOPIC);
    await tid('explain-submit').click();
    await tid('explain-decision').waitFor();
    assert.equal((await tid('explain-decision').textContent()).trim(), 'Allowed');
    assert.match(await tid('explain-matched').textContent(), new RegExp(`${GROUP.name}.*plants/%u/telemetry`));
    await shot('13-explain');
  });

  step('the clients page reads on a phone', async () => {
    await page.setViewportSize(PHONE);
    await tid('nav-clients').click();
    await tid('client-row').filter({ hasText: CLIENT.name }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling at 390 px (overflow ${overflow}px)`);
    await shot('10-clients-390');
    await page.setViewportSize(LAPTOP);
  });

  step('delete the client through the three-dot menu', async () => {
    const row = await openRowMenu(CLIENT.name);
    await shot('11-row-menu', false);
    await row.getByTestId('client-delete').click();
    const dialog = tid('confirm-dialog');
    await dialog.waitFor();
    assert.equal((await tid('confirm-name').textContent()).trim(), CLIENT.name, 'the dialog names the client');
    await shot('11-delete-confirm', false);
    await tid('confirm-ok').click();
    await dialog.waitFor({ state: 'detached' });
    await tid('toast').filter({ hasText: 'deleted' }).waitFor();
    await page.waitForFunction((name) => ![...document.querySelectorAll('[data-testid="client-row"]')]
      .some((r) => r.dataset.name === name), CLIENT.name);
  });

  step('the next reconnect is refused; the live device is not cut off', async () => {
    assertRefused(await publishOnce(secondPassword, 'boiler-7-after-delete'), 'deleted client');
    const [mon, dev] = devices;
    dev.send('after-delete 1');
    await mon.waitFor('after-delete 1');
    assert.equal(dev.exited, null);
  });


  step('disconnect the live device from the connections page', async (t) => {
    await tid('nav-connections').click();
    const row = page.locator('[data-testid="connection-row"][data-mqtt-client-id="boiler-7-device"]');
    await row.waitFor();
    await row.getByTestId('connection-disconnect').click();
    await tid('confirm-dialog').waitFor();
    assert.equal((await tid('confirm-name').textContent()).trim(), 'boiler-7-device');
    await shot('14-disconnect-confirm', false);
    await tid('confirm-ok').click();
    await tid('confirm-dialog').waitFor({ state: 'detached' });
    // The broker closes it; its client is deleted, so it cannot come back.
    const dev = devices[1];
    const end = Date.now() + 10000;
    while (Date.now() < end && !dev.exited && !/refused|not authori|lost|error/i.test(dev.out)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    dev.send('after-kick 1');
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(!devices[0].out.includes('after-kick 1'), `a kicked device publishes nothing more: ${dev.out}`);
    assert.ok(devices[0].out.includes('after-delete 1') && devices[0].exited === null, 'the monitor is still connected and listening');
    // The broker closes it and drops it from the registry a moment later.
    for (let i = 0; i < 20 && await row.count(); i++) {
      await page.waitForTimeout(500);
      await tid('connections-refresh').click();
      await tid('connections-table').or(tid('empty-state')).waitFor();
    }
    // The owning broker drops it from the cluster-wide registry as it closes it.
    if (await row.count()) {
      const res = await fetch(`${stack.base}/api/v1/connections?search=boiler-7-device`, { headers: { Authorization: `Bearer ${stack.token}` } });
      assert.fail(`boiler-7-device is still listed 10 s after the kick: ${await res.text()}`);
    }
  });

  step('sign out', async () => {
    await tid('sign-out').click();
    await tid('login-page').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('roost.admin.token')), null);
    await page.goto(`${stack.base}/#/clients`);
    await tid('login-page').waitFor();
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });
});
