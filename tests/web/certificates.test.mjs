// Browser test of the Certificates page (issue 14) against a real stack
// (redis-server, roost-admin, roost-authd, a cluster broker, and one more
// cluster broker with a TLS port and no certificate files): certificates
// made with the openssl command are uploaded in the console; a key that does
// not match the certificate is refused under its field; the saved key is
// never shown again (not after a reload either); and the broker serves the
// uploaded certificate to a new TLS handshake within seconds (its serial is
// checked); and a certificate client is made in the Clients page.
// Screenshots go to tests/web/out-certificates/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Stack, BIN, missingBinary, freePorts } from './stack.mjs';
import { loadPlaywright, openBrowser, screenshot, stepper, until } from './browser.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'out-certificates');

const playwright = await loadPlaywright();
const missing = missingBinary();
const skip = missing ? `needs ${missing}; build the tree (ROOST_BUILD_DIR) and run script/bootstrap`
  : !playwright ? 'playwright-core is not installed (cd tests/web && npm ci)' : false;

// A CA and two server certificates for localhost, made with openssl.
function makeCerts(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=Web Test CA');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const [name, serial] of [['one', '0x1111AA'], ['two', '0x2222BB']]) {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost');
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial,
      '-days', '30', '-extfile', 'san.ext', '-out', `${name}.crt`);
  }
  const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
  return { ca: read('ca.crt'), one: { crt: read('one.crt'), key: read('one.key') }, two: { crt: read('two.crt'), key: read('two.key') } };
}

// The serial (uppercase hex) a new TLS handshake gets, or null when refused.
function servedSerial(port, ca) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial ? serial.toUpperCase() : null);
    });
    s.on('error', () => resolve(null));
    s.setTimeout(3000, () => { s.destroy(); resolve(null); });
  });
}

describe('certificates page', { skip }, () => {
  let stack;
  let browser;
  let page;
  let pageErrors;
  let certs;
  let tlsPort;

  const shot = (name) => screenshot(page, OUT, name);
  const step = stepper(it, { shot, logs: () => (stack ? stack.logs() : '') });
  const tid = (id) => page.getByTestId(id);

  before(async () => {
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    stack = new Stack(OUT);
    await stack.start();
    certs = makeCerts(stack.tmp);
    const [mqtt, tport] = await freePorts(2);
    tlsPort = tport;
    const b = stack.spawn('broker-tls', BIN.broker, ['--bind', '127.0.0.1', '--port', String(mqtt),
      '--tls-port', String(tlsPort), '--authd', `tcp://127.0.0.1:${stack.authdPort}`, '--redis', stack.redis,
      '--prefix', stack.prefix, '--bus-bind', 'tcp://127.0.0.1:*', '--admin-events', `tcp://127.0.0.1:${stack.pubPort}`,
      '--id', 'broker-web-tls'], stack.common);
    await stack.waitPort(b, mqtt);
    browser = await openBrowser(playwright);
    ({ page, pageErrors } = browser);
  });

  after(async () => {
    if (browser) await browser.close();
    if (stack) await stack.stop();
  });

  step('no custom certificate at first; the TLS port serves nothing', async () => {
    await page.goto(`${stack.base}/`);
    await tid('login-token').fill(stack.token);
    await tid('login-submit').click();
    await tid('nav-certificates').click();
    await tid('cert-form').waitFor();
    assert.match(await tid('cert-status').textContent(), /No custom certificate/);
    assert.equal(await servedSerial(tlsPort, certs.ca), null);
    await shot('01-empty');
  });

  step('a key that does not match the certificate is refused under its field', async () => {
    await tid('cert-enabled').check();
    await tid('cert-ca').fill(certs.ca);
    await tid('cert-server').fill(certs.two.crt);
    await tid('cert-key').fill(certs.one.key);
    await tid('cert-save').click();
    await tid('error-server_key').waitFor({ state: 'visible' });
    assert.match(await tid('error-server_key').textContent(), /does not match/);
    await shot('02-mismatched-key');
  });

  step('saved: the certificate is shown, the key never again, and the broker serves it', async () => {
    await tid('cert-key').fill(certs.two.key);
    await tid('cert-mtls').selectOption('optional');
    await tid('cert-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="cert-serial"]')?.textContent === '2222BB');
    assert.equal((await tid('cert-key-set').textContent()).trim(), 'Stored (write-only)');
    assert.equal(await tid('cert-key').inputValue(), '');
    const keyBody = certs.two.key.split('\n')[1];
    assert.ok(!(await page.content()).includes(keyBody), 'the key is not in the page');
    await shot('03-saved');
    assert.ok(await until(async () => (await servedSerial(tlsPort, certs.ca)) === '2222BB', 5000),
      'the broker serves the uploaded certificate');
    // a reload shows the stored settings, still without the key
    await page.reload();
    await tid('cert-form').waitFor();
    assert.equal(await tid('cert-key').inputValue(), '');
    assert.ok(!(await page.content()).includes(keyBody));
    assert.equal((await tid('cert-serial').textContent()).trim(), '2222BB');
    assert.ok(await tid('cert-enabled').isChecked());
    assert.equal(await tid('cert-mtls').inputValue(), 'optional');
    assert.deepEqual(pageErrors, []);
  });

  step('a certificate client made in the Clients page: no username, its certificate shown', async () => {
    const dev = makeDevice(stack.tmp);
    await tid('nav-clients').click();
    await tid('new-client').click();
    await tid('client-name').fill('Pump 3');
    await tid('client-certificate').fill('not a certificate');
    await tid('client-save').click();
    await tid('error-certificate').waitFor({ state: 'visible' });
    assert.match(await tid('error-certificate').textContent(), /no PEM certificate/);
    await tid('client-certificate').fill(dev);
    await tid('client-save').click();
    const row = page.locator('[data-testid="client-row"][data-name="Pump 3"]');
    await row.waitFor();
    assert.equal((await row.getByTestId('client-auth-type').locator('.th-long').textContent()).trim(), 'Certificate');
    await row.getByTestId('client-link').click();
    await tid('client-cert-subject').waitFor();
    assert.equal((await tid('client-cert-subject').textContent()).trim(), 'CN=pump-3');
    assert.match(await tid('client-cert-fingerprint').textContent(), /^SHA256:[0-9a-f]{64}$/);
    await shot('04-certificate-client');
    assert.deepEqual(pageErrors, []);
  });
});

// A device certificate (CN=pump-3) signed by the test CA: its PEM.
function makeDevice(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'pump.key', '-out', 'pump.csr',
    '-subj', '/CN=pump-3');
  run('x509', '-req', '-in', 'pump.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x3333', '-days', '30',
    '-out', 'pump.crt');
  return fs.readFileSync(path.join(dir, 'pump.crt'), 'utf8');
}
