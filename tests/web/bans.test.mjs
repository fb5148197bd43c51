// Browser test of the Bans page (issue 13) against a real stack (redis-server,
// roost-admin, roost-authd, a cluster broker with --admin-events): a bad
// address is refused under its field; a range ban shows its reason and
// expiry; a ban on a connected device's client id made in the console
// disconnects it at once and refuses its next CONNECT; lifting the ban
// through the row menu lets it connect again. Devices are Debian's
// mosquitto_sub/mosquitto_pub. Screenshots go to tests/web/out-bans/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, BIN, missingBinary, runClient, Device } from './stack.mjs';
import { loadPlaywright, openBrowser, screenshot, stepper, until } from './browser.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'out-bans');
const USER = { name: 'Ban target', username: 'bantarget', password: 'ban-target-pw-1' };

const playwright = await loadPlaywright();
const missing = missingBinary();
const skip = missing ? `needs ${missing}; build the tree (ROOST_BUILD_DIR) and run script/bootstrap`
  : !playwright ? 'playwright-core is not installed (cd tests/web && npm ci)' : false;

describe('bans page', { skip }, () => {
  let stack;
  let browser;
  let page;
  let pageErrors;
  let device;

  const shot = (name) => screenshot(page, OUT, name);
  const step = stepper(it, { shot, logs: () => (stack ? stack.logs() : '') });
  const tid = (id) => page.getByTestId(id);
  const mqttArgs = (clientId) => ['-h', '127.0.0.1', '-p', String(stack.mqttPort), '-V', 'mqttv311',
    '-u', USER.username, '-P', USER.password, '-i', clientId];
  const api = async (method, p, body) => {
    const res = await fetch(`${stack.base}/api/v1${p}`, {
      method, headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, doc: res.status === 204 ? null : await res.json() };
  };

  before(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    stack = new Stack(OUT);
    await stack.start();
    const c = await api('POST', '/clients', { name: USER.name, username: USER.username, password: USER.password });
    assert.equal(c.status, 201, JSON.stringify(c.doc));
    const g = await api('POST', '/groups', { name: 'ban-test', acl: [{ permission: 'allow', action: 'both', topic: 'x/#' }] });
    assert.equal(g.status, 201, JSON.stringify(g.doc));
    const r = await api('POST', '/group-rules', { match_by: 'client', value: c.doc.id, groups: [g.doc.id] });
    assert.equal(r.status, 201, JSON.stringify(r.doc));
    browser = await openBrowser(playwright);
    ({ page, pageErrors } = browser);
  });

  after(async () => {
    if (device && !device.exited) process.kill(device.child.pid, 'SIGKILL');
    if (browser) await browser.close();
    if (stack) await stack.stop();
  });

  step('no bans at first', async () => {
    await page.goto(`${stack.base}/`);
    await tid('login-token').fill(stack.token);
    await tid('login-submit').click();
    await tid('nav-bans').click();
    await page.getByText('No bans').waitFor();
    await shot('01-empty');
  });

  step('a bad address is refused under its field; a range ban shows reason and expiry', async () => {
    await tid('new-ban').click();
    await tid('ban-form').waitFor();
    await tid('ban-kind').selectOption('cidr');
    await tid('ban-value-input').fill('not-an-address');
    await tid('ban-save').click();
    await tid('error-value').waitFor({ state: 'visible' });
    await shot('02-bad-value');
    await tid('ban-value-input').fill('203.0.113.0/24');
    await tid('ban-reason-input').fill('port scanner');
    await tid('ban-expires-input').fill('3600');
    await tid('ban-save').click();
    await page.waitForURL(/#\/bans$/);
    const row = page.locator('[data-testid="ban-row"][data-id="cidr:203.0.113.0/24"]');
    await row.waitFor();
    assert.equal((await row.getByTestId('ban-reason').textContent()).trim(), 'port scanner');
    assert.notEqual((await row.getByTestId('ban-expires').textContent()).trim(), 'Never');
    await shot('03-range-ban');
  });

  step('banning a connected device disconnects it and refuses its next CONNECT', async () => {
    device = new Device('sub', BIN.mosquittoSub, [...mqttArgs('ban-me'), '-t', 'x/y', '-q', '1']);
    assert.ok(await until(async () => (await api('GET', '/connections')).doc.items.some((x) => x.mqtt_client_id === 'ban-me')),
      `the device connected: ${device.out}`);
    await tid('new-ban').click();
    await tid('ban-kind').selectOption('client_id');
    await tid('ban-value-input').fill('ban-me');
    await tid('ban-reason-input').fill('misbehaving');
    await tid('ban-save').click();
    await page.waitForURL(/#\/bans$/);
    await page.locator('[data-testid="ban-row"][data-id="client_id:ban-me"]').waitFor();
    assert.ok(await until(() => device.exited !== null, 5000), 'the banned device was disconnected');
    const r = await runClient(BIN.mosquittoPub, [...mqttArgs('ban-me'), '-t', 'x/y', '-m', 'hi']);
    assert.notEqual(r.code, 0, `a banned client id must be refused: ${r.out}`);
    assert.match(r.out, /not authori[sz]ed|refused/i, r.out);
    await shot('04-device-banned');
  });

  step('lifting the ban through the row menu lets the device in again', async () => {
    const row = page.locator('[data-testid="ban-row"][data-id="client_id:ban-me"]');
    await row.getByTestId('ban-menu').click();
    await row.getByTestId('ban-delete').click();
    assert.equal((await tid('confirm-name').textContent()).trim(), 'ban-me');
    await tid('confirm-ok').click();
    await row.waitFor({ state: 'detached' });
    assert.ok(await until(async () => (await runClient(BIN.mosquittoPub,
      [...mqttArgs('ban-me'), '-t', 'x/y', '-m', 'hi'])).code === 0, 3000), 'the lifted id connects');
    assert.equal((await api('GET', '/bans')).doc.items.length, 1, 'the range ban stays');
    assert.deepEqual(pageErrors, []);
    await shot('05-lifted');
  });
});
