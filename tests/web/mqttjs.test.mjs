// MQTT over WebSockets from a real browser (issue 18): the npm package
// `mqtt` (MQTT.js, its browser bundle) loaded by headless Chromium from a
// small page this test serves, against a real stack (redis-server,
// roost-admin, roost-authd, and a cluster broker with --ws-port, --wss-port
// and --ws-allowed-origins naming the page's origin). Over ws and over wss
// the page connects with a client's credentials, subscribes, receives what a
// TCP device (mosquitto_pub) publishes, and publishes what a TCP device
// (mosquitto_sub) receives; a wrong password is refused; the same page
// served from another origin is refused (403) by the broker.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, BIN, Device, missingBinary, freePorts, runClient } from './stack.mjs';
import { loadPlaywright, openBrowser, stepper } from './browser.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'out-mqttjs');
const BUNDLE = path.join(HERE, 'node_modules/mqtt/dist/mqtt.min.js');

const playwright = await loadPlaywright();
const missing = missingBinary();
const skip = missing ? `needs ${missing}; build the tree (ROOST_BUILD_DIR) and run script/bootstrap`
  : !playwright ? 'playwright-core is not installed (cd tests/web && npm ci)'
    : !fs.existsSync(BUNDLE) ? 'mqtt is not installed (cd tests/web && npm ci)' : false;

// A CA and the broker's certificate for localhost/127.0.0.1; the SPKI hash
// Chromium is told to accept (only this key: no blanket certificate bypass).
function makeCerts(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=WS Test CA');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x77',
    '-days', '30', '-extfile', 'san.ext', '-out', 'server.crt');
  run('pkey', '-in', 'server.key', '-pubout', '-outform', 'der', '-out', 'server.spki');
  const spki = execFileSync('openssl', ['dgst', '-sha256', '-binary', 'server.spki'], { cwd: dir }).toString('base64');
  return { crt: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key'), spki };
}

// The page: the MQTT.js bundle and nothing else; the test drives it.
function servePage() {
  const bundle = fs.readFileSync(BUNDLE);
  const srv = http.createServer((req, res) => {
    if (req.url === '/mqtt.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>MQTT.js</title><script src="/mqtt.min.js"></script><p>ready</p>');
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

// In the page: connect, and report the CONNACK or the error.
async function pageConnect(page, url, username, password) {
  return page.evaluate(({ url, username, password }) => new Promise((resolve) => {
    const c = mqtt.connect(url, { username, password, clientId: `browser-${Math.random().toString(16).slice(2)}`,
      protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 8000 });
    window.client = c;
    window.got = [];
    c.on('message', (t, m) => window.got.push({ topic: t, payload: new TextDecoder().decode(m) }));
    c.on('connect', () => resolve({ ok: true }));
    c.on('error', (e) => { c.end(true); resolve({ ok: false, error: String(e && (e.code ?? e.message)) }); });
    c.on('close', () => resolve({ ok: false, error: 'closed' }));
  }), { url, username, password });
}

describe('MQTT.js in Chromium over ws and wss', { skip }, () => {
  let stack;
  let browser;
  let page;
  let pages = [];
  let ports;
  const user = 'webdev';
  const password = 'browser-pass-123';
  const step = stepper(it, { shot: async () => {}, logs: () => stack && stack.logs() });

  before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    stack = new Stack(OUT);
    await stack.start();
    const certs = makeCerts(stack.tmp);
    pages = [await servePage(), await servePage()];
    const origin = `http://127.0.0.1:${pages[0].address().port}`;
    const [mqttPort, ws, wss, tlsPort] = await freePorts(4);
    ports = { mqtt: mqttPort, ws, wss };
    const b = stack.spawn('broker-ws', BIN.broker, ['--bind', '127.0.0.1', '--port', String(mqttPort),
      '--authd', `tcp://127.0.0.1:${stack.authdPort}`, '--redis', stack.redis, '--prefix', stack.prefix,
      '--bus-bind', 'tcp://127.0.0.1:*', '--id', 'broker-web-ws',
      '--ws-port', String(ws), '--wss-port', String(wss), '--ws-allowed-origins', origin,
      '--tls-port', String(tlsPort), '--tls-cert', certs.crt, '--tls-key', certs.key], stack.common);
    await stack.waitPort(b, ws);
    browser = await openBrowser(playwright, undefined, [`--ignore-certificate-errors-spki-list=${certs.spki}`]);
    page = browser.page;
  });

  after(async () => {
    if (browser) await browser.close();
    for (const p of pages) p.close();
    if (stack) await stack.stop();
  });

  const api = async (method, p, body) => {
    const r = await fetch(`${stack.base}${p}`, { method, headers: { authorization: `Bearer ${stack.token}`,
      'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const doc = r.status === 204 ? null : await r.json();
    assert.ok(r.ok, `${method} ${p}: ${r.status} ${JSON.stringify(doc)}`);
    return doc;
  };

  step('a client with credentials and a group for its topics', async () => {
    const cl = await api('POST', '/api/v1/clients', { name: 'Browser', username: user, password });
    const g = await api('POST', '/api/v1/groups', { name: 'web', description: '', acl: [
      { permission: 'allow', action: 'publish', topic: 'web/%u/#' },
      { permission: 'allow', action: 'subscribe', topic: 'web/%u/#' }] });
    await api('POST', '/api/v1/group-rules', { match_by: 'client', value: cl.id, groups: [g.id] });
    await page.goto(`http://127.0.0.1:${pages[0].address().port}/`);
    assert.equal(await page.evaluate(() => typeof mqtt.connect), 'function');
  });

  for (const scheme of ['ws', 'wss']) {
    step(`${scheme}: connect, subscribe, receive from a TCP device, publish to one`, async () => {
      const url = `${scheme}://${scheme === 'ws' ? '127.0.0.1' : 'localhost'}:${ports[scheme]}/mqtt`;
      const r = await pageConnect(page, url, user, password);
      assert.deepEqual(r, { ok: true }, `${url}: ${JSON.stringify(r)}\n${stack.logs()}`);
      const topic = `web/${user}/${scheme}`;
      await page.evaluate((t) => new Promise((res, rej) => window.client.subscribe(t, { qos: 1 },
        (e) => (e ? rej(e) : res()))), `${topic}/in`);
      const pub = await runClient(BIN.mosquittoPub, ['-h', '127.0.0.1', '-p', String(ports.mqtt), '-u', user,
        '-P', password, '-q', '1', '-t', `${topic}/in`, '-m', `to-browser-over-${scheme}`]);
      assert.equal(pub.code, 0, pub.out);
      await page.waitForFunction(() => window.got.length > 0, null, { timeout: 10000 });
      assert.deepEqual(await page.evaluate(() => window.got),
        [{ topic: `${topic}/in`, payload: `to-browser-over-${scheme}` }]);
      // line-buffered, so its debug line saying SUBACK arrives when printed
      const sub = new Device('sub', '/usr/bin/stdbuf', ['-oL', BIN.mosquittoSub, '-h', '127.0.0.1', '-p', String(ports.mqtt), '-u', user,
        '-P', password, '-q', '1', '-t', `${topic}/out`, '-C', '1', '-d']);
      try {
        await sub.waitFor('SUBACK');
        await page.evaluate((t) => new Promise((res, rej) => window.client.publish(t, 'from-browser', { qos: 1 },
          (e) => (e ? rej(e) : res()))), `${topic}/out`);
        await sub.waitFor('from-browser');
      } finally {
        await sub.stop();
      }
      await page.evaluate(() => new Promise((res) => window.client.end(false, {}, res)));
    });
  }

  step('a wrong password is refused', async () => {
    const r = await pageConnect(page, `ws://127.0.0.1:${ports.ws}/mqtt`, user, 'wrong-password-1');
    assert.equal(r.ok, false);
    assert.match(r.error, /^(4|5|closed)$|Bad username or password|Not authorized/i);
  });

  step('the page from another origin is refused (403, --ws-allowed-origins)', async () => {
    await page.goto(`http://127.0.0.1:${pages[1].address().port}/`);
    const r = await pageConnect(page, `ws://127.0.0.1:${ports.ws}/mqtt`, user, password);
    assert.equal(r.ok, false, JSON.stringify(r));
    const log = fs.readFileSync(stack.procs.find((p) => p.name === 'broker-ws').log, 'utf8');
    assert.match(log, new RegExp(`event=conn_refused .*transport=ws stage=handshake reason="HTTP 403: Origin not allowed`));
  });
});
