// What a browser test of the console needs beside the stack (stack.mjs):
// headless Debian Chromium through playwright-core, shut off from every
// address but the loopback admin; numbered steps that skip the rest after a
// failure, with a screenshot and the stack's logs; polling with a deadline.
import fs from 'node:fs';
import path from 'node:path';
import { BIN } from './stack.mjs';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// playwright-core, or null when it is not installed.
export async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch {
    return null;
  }
}

// A browser: {context, page, pageErrors, close()}. Only http://127.0.0.1 is reachable
// (WebSockets are not routed: ws:// and wss:// reach whatever the page asks).
export async function openBrowser(playwright, viewport = { width: 1280, height: 1000 }, extraArgs = []) {
  const userDataDir = fs.mkdtempSync('/tmp/roost-web-chromium-');
  const context = await playwright.chromium.launchPersistentContext(userDataDir, {
    executablePath: BIN.chromium, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs], viewport, timeout: 60000,
  });
  await context.route(/^(?!http:\/\/127\.0\.0\.1:\d+\/)/, (route) => route.abort());
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    context, page, pageErrors,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

// A full-page screenshot into dir/name.png.
export async function screenshot(page, dir, name) {
  await page.waitForTimeout(200);
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

// step(name, fn) for node:test's `it`: once a step fails the later ones are
// skipped; the failure gets a screenshot (shot(name)) and the stack's logs.
export function stepper(it, { shot, logs }) {
  let broken = null;
  return (name, fn) => it(name, async (t) => {
    if (broken) { t.skip(`an earlier step failed: ${broken}`); return; }
    try {
      await fn(t);
    } catch (err) {
      broken = name;
      await shot(`failed-${name.replace(/\W+/g, '-').slice(0, 40)}`).catch(() => {});
      const l = logs();
      if (l) t.diagnostic(l);
      throw err;
    }
  });
}

// Polls pred until it is truthy or ms pass; returns its last value.
export async function until(pred, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}
