// The whole local Roost stack for the browser test: redis-server, roost-admin,
// roost-authd and roost-broker on free 127.0.0.1 ports. Every process is
// started here and stopped by its PID (SIGTERM, then SIGKILL after a grace).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// brokers started here listen on the ports they are given only
// (--ws-port and --wss-port default to 8083 and, with TLS, 8084)
process.env.ROOST_WS_PORT ??= '0';
process.env.ROOST_WSS_PORT ??= '0';
export const BUILD = process.env.ROOST_BUILD_DIR || path.resolve(HERE, '../../build-test');
export const BIN = {
  redis: '/usr/bin/redis-server',
  admin: path.join(BUILD, 'services/admin/roost-admin'),
  authd: path.join(BUILD, 'services/authd/roost-authd'),
  broker: path.join(BUILD, 'services/broker/roost-broker'),
  chromium: process.env.ROOST_CHROMIUM || '/usr/bin/chromium',
  mosquittoPub: '/usr/bin/mosquitto_pub',
  mosquittoSub: '/usr/bin/mosquitto_sub',
};

// The first missing program, or null when everything is there.
export function missingBinary() {
  for (const [name, p] of Object.entries(BIN)) {
    try { fs.accessSync(p, fs.constants.X_OK); } catch { return `${name} (${p})`; }
  }
  return null;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function freePorts(n) {
  const out = new Set();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export class Stack {
  constructor(outDir) {
    this.outDir = outDir;
    this.logDir = path.join(outDir, 'logs');
    fs.mkdirSync(this.logDir, { recursive: true });
    this.tmp = fs.mkdtempSync('/tmp/roost-web-');
    this.procs = [];
    this.token = crypto.randomBytes(24).toString('base64url');
  }

  spawn(name, cmd, args, env = {}) {
    const log = path.join(this.logDir, `${name}.log`);
    const fd = fs.openSync(log, 'w');
    const child = spawn(cmd, args, {
      cwd: this.tmp,
      env: { ...process.env, ...env },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    const proc = { name, child, log, exited: null };
    child.on('exit', (code, signal) => { proc.exited = { code, signal }; });
    this.procs.push(proc);
    return proc;
  }

  async waitPort(proc, port, timeoutMs = 20000) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (proc.exited) throw new Error(`${proc.name} exited early (${JSON.stringify(proc.exited)}):\n${this.tail(proc)}`);
      if (await canConnect(port)) return;
      await sleep(100);
    }
    throw new Error(`${proc.name} did not listen on ${port} within ${timeoutMs} ms:\n${this.tail(proc)}`);
  }

  tail(proc, lines = 30) {
    try { return fs.readFileSync(proc.log, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
  }

  async start() {
    const [redisPort, httpPort, rpcPort, pubPort, authdPort, authdHttp, mqttPort] = await freePorts(7);
    Object.assign(this, { redisPort, httpPort, mqttPort });
    this.base = `http://127.0.0.1:${httpPort}`;
    const redis = `127.0.0.1:${redisPort}`;
    const prefix = `roostweb${process.pid}:`;
    const common = { ROOST_LOG_LEVEL: 'info', ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=0' };
    Object.assign(this, { redis, prefix, common, authdPort, pubPort });

    const r = this.spawn('redis', BIN.redis, ['--bind', '127.0.0.1', '--port', String(redisPort),
      '--save', '', '--appendonly', 'no', '--dir', this.tmp]);
    await this.waitPort(r, redisPort);

    // Cheapest argon2id cost: the test is about the console, not hashing.
    const admin = this.spawn('admin', BIN.admin, ['--redis', redis, '--prefix', prefix,
      '--http-bind', '127.0.0.1', '--http-port', String(httpPort),
      '--rpc-bind', `tcp://127.0.0.1:${rpcPort}`, '--pub-bind', `tcp://127.0.0.1:${pubPort}`,
      '--token-file', path.join(this.tmp, 'admin-token'),
      '--argon2-ops', '1', '--argon2-mem', '8192'],
    { ...common, ROOST_ADMIN_TOKEN: this.token });
    await this.waitPort(admin, httpPort);

    const authd = this.spawn('authd', BIN.authd, ['--redis', redis, '--prefix', prefix,
      '--bind', `tcp://127.0.0.1:${authdPort}`, '--changes', `tcp://127.0.0.1:${pubPort}`,
      '--http-bind', '127.0.0.1', '--http-port', String(authdHttp), '--throttle-after', '20'], common);
    await this.waitPort(authd, authdHttp);

    const broker = this.spawn('broker', BIN.broker, ['--bind', '127.0.0.1', '--port', String(mqttPort),
      '--authd', `tcp://127.0.0.1:${authdPort}`, '--redis', redis, '--prefix', prefix,
      '--bus-bind', 'tcp://127.0.0.1:*', '--admin-events', `tcp://127.0.0.1:${pubPort}`,
      '--id', 'broker-web-1'], common);
    await this.waitPort(broker, mqttPort);
  }

  // Another cluster broker (or the same id again after a kill): {proc, port}.
  async startBroker(id, port = null) {
    const mqtt = port || (await freePorts(1))[0];
    const proc = this.spawn(id, BIN.broker, ['--bind', '127.0.0.1', '--port', String(mqtt),
      '--authd', `tcp://127.0.0.1:${this.authdPort}`, '--redis', this.redis, '--prefix', this.prefix,
      '--bus-bind', 'tcp://127.0.0.1:*', '--id', id], this.common);
    await this.waitPort(proc, mqtt);
    return { proc, port: mqtt };
  }

  // SIGKILL by PID (a crash), waiting until the process is gone.
  async kill(proc) {
    if (proc.exited) return;
    const gone = new Promise((r) => proc.child.once('exit', r));
    process.kill(proc.child.pid, 'SIGKILL');
    await gone;
  }

  // Stops every process we started, newest first, by PID.
  async stop() {
    for (const p of [...this.procs].reverse()) {
      if (p.exited) continue;
      const gone = new Promise((r) => p.child.once('exit', r));
      try { process.kill(p.child.pid, 'SIGTERM'); } catch { continue; }
      const t = setTimeout(() => { try { process.kill(p.child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await gone;
      clearTimeout(t);
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }

  logs() {
    return this.procs.map((p) => `----- ${p.name} (${p.log})\n${this.tail(p, 40)}`).join('\n');
  }
}

// ---------------------------------------------------------------- MQTT devices

// One mosquitto_pub/mosquitto_sub run to completion: {code, out}.
export function runClient(bin, args, timeoutMs = 15000) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, out }); });
  });
}

// A long-lived device process: stdout/stderr collected, stdin kept open.
export class Device {
  constructor(name, bin, args) {
    this.name = name;
    this.out = '';
    this.exited = null;
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d) => { this.out += d; });
    this.child.stderr.on('data', (d) => { this.out += d; });
    this.child.on('exit', (code, signal) => { this.exited = { code, signal }; });
    this.child.stdin.on('error', () => {});
  }

  send(line) { this.child.stdin.write(`${line}\n`); }

  async waitFor(text, timeoutMs = 10000) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.out.includes(text)) return true;
      if (this.exited) break;
      await sleep(50);
    }
    throw new Error(`${this.name}: "${text}" not seen within ${timeoutMs} ms (exited: ${JSON.stringify(this.exited)}); output:\n${this.out}`);
  }

  async stop() {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    try { process.kill(this.child.pid, 'SIGTERM'); } catch { return; }
    const t = setTimeout(() => { try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
    await gone;
    clearTimeout(t);
  }
}
