// Browser test of the Pipelines and Topic Mappings pages (issue 17) against
// a real stack (redis-server, roost-admin, roost-authd, a cluster broker,
// roost-forwarder) and a real HTTP sink this test runs on loopback: a
// pipeline made in the console (a bad URL refused under its field first)
// shows its tokens masked, never in the page; a mapping made in the console
// forwards a device's message with the token as a header; pause through the
// three-dot menu holds messages (queued), resume sends them; a refused
// delete; the sink's outage shows as the last error. Screenshots go to
// tests/web/out-pipelines/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, BIN, BUILD, missingBinary, runClient, freePorts } from './stack.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'out-pipelines');
const FORWARDER = path.join(BUILD, 'services/forwarder/roost-forwarder');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const AUTH_TOKEN = 'web-secret-auth-4d1c';
const NET_TOKEN = 'web-secret-net-9e72';

const missing = missingBinary() || (fs.existsSync(FORWARDER) ? null : FORWARDER);
let playwright = null;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = null;
}
const skip = missing ? `needs ${missing}; build the tree (ROOST_BUILD_DIR) and run script/bootstrap`
  : !playwright ? 'playwright-core is not installed (cd tests/web && npm ci)' : false;

// A recording HTTP receiver on 127.0.0.1.
function startSink(port) {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(200, { 'Content-Length': '0' });
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, got })));
}

describe('pipelines and topic mappings', { skip }, () => {
  let stack;
  let context;
  let page;
  let userDataDir;
  let sink;
  let sinkPort;
  let broken = null;
  let user;
  const pageErrors = [];

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

  async function shot(name) {
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
  }

  const tid = (id) => page.getByTestId(id);
  const until = async (pred, ms = 10000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) { if (await pred()) return true; await new Promise((r) => setTimeout(r, 100)); }
    return pred();
  };

  async function api(method, p, body) {
    const res = await fetch(`${stack.base}/api/v1${p}`, {
      method, headers: { Authorization: `Bearer ${stack.token}`, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  const publish = (topic, msg) => runClient(BIN.mosquittoPub, ['-h', '127.0.0.1', '-p', String(stack.mqttPort),
    '-V', 'mqttv311', '-u', user.username, '-P', user.password, '-i', 'web-pub', '-t', topic, '-m', msg, '-q', '1']);

  async function openRowMenu(rowTestid, key, value, menuTestid) {
    const row = page.locator(`[data-testid="${rowTestid}"][data-${key}="${value}"]`);
    await row.getByTestId(menuTestid).click();
    await row.getByRole('menu').waitFor();
    return row;
  }

  before(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    stack = new Stack(OUT);
    await stack.start();
    [sinkPort] = await freePorts(1);
    sink = await startSink(sinkPort);
    const [fwdHttp] = await freePorts(1);
    const fwd = stack.spawn('forwarder', FORWARDER, ['--redis', stack.redis, '--prefix', stack.prefix,
      '--http-port', String(fwdHttp), '--routes-poll-ms', '200', '--backoff-base-ms', '100', '--backoff-max-ms', '500'],
    stack.common);
    await stack.waitPort(fwd, fwdHttp);
    user = { name: 'Sensor', username: 'sensor-w', password: 'sensor-password-1' };
    const client = await api('POST', '/clients', user);
    const group = await api('POST', '/groups', { name: 'sensors', acl: [{ permission: 'allow', action: 'publish', topic: 'web/#' }] });
    await api('POST', '/group-rules', { match_by: 'client', value: client.id, groups: [group.id] });
    userDataDir = fs.mkdtempSync('/tmp/roost-web-chromium-');
    context = await playwright.chromium.launchPersistentContext(userDataDir, {
      executablePath: BIN.chromium, headless: true, args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 }, timeout: 60000,
    });
    await context.route(/^(?!http:\/\/127\.0\.0\.1:\d+\/)/, (route) => route.abort());
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    if (context) await context.close().catch(() => {});
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (sink) sink.server.close();
    if (stack) await stack.stop();
  });

  step('a pipeline made in the console: bad URL refused at its field, tokens masked', async () => {
    await page.goto(`${stack.base}/`);
    await tid('login-token').fill(stack.token);
    await tid('login-submit').click();
    await tid('nav-pipelines').click();
    await tid('new-pipeline').click();
    await tid('pipeline-name').fill('backend');
    await tid('pipeline-url-input').fill('ftp://example.com/in');
    await tid('pipeline-auth-token').fill(AUTH_TOKEN);
    await tid('pipeline-net-token').fill(NET_TOKEN);
    await tid('pipeline-save').click();
    await tid('error-url').waitFor({ state: 'visible' });
    assert.match(await tid('error-url').textContent(), /http:\/\/ or https:\/\//);
    await shot('01-bad-url');
    await tid('pipeline-url-input').fill(`http://127.0.0.1:${sinkPort}/in`);
    await tid('pipeline-save').click();
    const row = page.locator('[data-testid="pipeline-row"][data-name="backend"]');
    await row.waitFor();
    assert.equal((await row.getByTestId('pipeline-status').textContent()).trim(), 'Active');
    assert.equal((await row.getByTestId('pipeline-authorization-token').textContent()).trim(), '********');
    assert.equal((await row.getByTestId('pipeline-network-token').textContent()).trim(), '********');
    const html = await page.content();
    assert.ok(!html.includes(AUTH_TOKEN) && !html.includes(NET_TOKEN), 'no token in the page');
    await shot('02-pipelines');
    // the edit form never shows a token
    await row.getByTestId('pipeline-link').click();
    await tid('pipeline-form').waitFor();
    assert.equal(await tid('pipeline-auth-token').inputValue(), '');
    assert.ok(!(await page.content()).includes(AUTH_TOKEN));
    await tid('pipeline-cancel').click();
  });

  step('a mapping made in the console forwards a device’s message with the tokens as headers', async () => {
    await tid('nav-mappings').click();
    await tid('new-mapping').click();
    await tid('mapping-topic').fill('web/+/data');
    await tid('mapping-save').click();
    const row = page.locator('[data-testid="mapping-row"][data-topic="web/+/data"]');
    await row.waitFor();
    assert.equal((await row.getByTestId('mapping-pipeline').textContent()).trim(), 'backend');
    await shot('03-mappings');
    await page.waitForTimeout(1200); // mapping changes apply within a second
    const r = await publish('web/1/data', 'hello');
    assert.equal(r.code, 0, r.out);
    assert.ok(await until(() => sink.got.length === 1), 'the sink got the message');
    assert.equal(sink.got[0].body.payload, 'hello');
    assert.equal(sink.got[0].body.topic, 'web/1/data');
    assert.equal(sink.got[0].headers.authorization, `Bearer ${AUTH_TOKEN}`);
    assert.equal(sink.got[0].headers['x-network-token'], NET_TOKEN);
  });

  step('pause through the menu holds messages; resume sends them', async () => {
    await tid('nav-pipelines').click();
    let row = await openRowMenu('pipeline-row', 'name', 'backend', 'pipeline-menu');
    await row.getByTestId('pipeline-toggle').click();
    row = page.locator('[data-testid="pipeline-row"][data-name="backend"]');
    await page.waitForFunction(() => document.querySelector('[data-name="backend"] [data-testid="pipeline-status"]')?.textContent === 'Paused');
    await page.waitForTimeout(1000);
    assert.equal((await publish('web/2/data', 'held')).code, 0);
    await page.waitForTimeout(1000);
    assert.equal(sink.got.length, 1, 'nothing sent while paused');
    await page.reload();
    await page.locator('[data-name="backend"] [data-testid="pipeline-queued"]').waitFor();
    assert.match(await page.locator('[data-name="backend"] [data-testid="pipeline-queued"]').textContent(), /1 queued/);
    await shot('04-paused');
    await openRowMenu('pipeline-row', 'name', 'backend', 'pipeline-menu');
    await page.locator('[data-name="backend"]').getByTestId('pipeline-toggle').click();
    assert.ok(await until(() => sink.got.length === 2), 'resumed: the held message arrives');
    assert.equal(sink.got[1].body.payload, 'held');
  });

  step('a pipeline fed by a mapping cannot be deleted; an outage shows as the last error', async () => {
    await openRowMenu('pipeline-row', 'name', 'backend', 'pipeline-menu');
    await page.locator('[data-name="backend"]').getByTestId('pipeline-delete').click();
    await tid('confirm-dialog').waitFor();
    await tid('confirm-ok').click();
    await page.getByText(/fed by 1 topic mapping/).first().waitFor();
    await shot('05-delete-refused');
    await page.keyboard.press('Escape');
    await new Promise((r) => sink.server.close(r));
    sink.server.closeAllConnections?.();
    assert.equal((await publish('web/3/data', 'lost?')).code, 0);
    await page.waitForTimeout(1500);
    await page.reload();
    await page.locator('[data-name="backend"] [data-testid="pipeline-error"]').waitFor();
    assert.match(await page.locator('[data-name="backend"] [data-testid="pipeline-error"]').textContent(), /Last error: .*(refused|connect)/i);
    await shot('06-last-error');
    assert.deepEqual(pageErrors, []);
  });
});
