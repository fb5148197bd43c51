// bench/overview_admin.py's browser: signs in, keeps the Overview open for
// SECONDS, prints the polls made, bytes received and the connections shown.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { chromium } = await import(path.join(HERE, '../tests/web/node_modules/playwright-core/index.mjs'));
const [base, token, seconds] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.ROOST_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
let polls = 0;
let bytes = 0;
page.on('response', async (r) => {
  if (!r.url().includes('/api/v1/overview')) return;
  polls++;
  try { bytes += (await r.body()).length; } catch { /* page moved on */ }
});
await page.goto(`${base}/`);
await page.getByTestId('login-token').fill(token);
await page.getByTestId('login-submit').click();
await page.getByTestId('overview-page').waitFor();
await page.waitForTimeout(Number(seconds) * 1000);
const shown = await page.getByTestId('now-connections').textContent();
console.log(JSON.stringify({ polls, bytes, connections_shown: shown }));
await browser.close();
