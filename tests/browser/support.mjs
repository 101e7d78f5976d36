// What the browser tests share: a `grantd serve` binary on a fresh database, and Debian's
// Chromium with JavaScript turned off in the page.
//
//   GRANTD_BIN        the grantd binary (default: ../../target/debug/grantd)
//   SCREENSHOT_DIR    where the screenshots go (default: ../../target/browser-screenshots)
//   CHROMIUM          the browser (default: /usr/bin/chromium)

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
const bin = process.env.GRANTD_BIN ?? path.join(root, 'target/debug/grantd');
export const shots = process.env.SCREENSHOT_DIR ?? path.join(root, 'target/browser-screenshots');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const seed = path.join(root, 'examples/seed.toml');

/** Starts `grantd serve` on a fresh database in `dir` (seeded with `seedFile`, by default
 * examples/seed.toml) and resolves with its base URL. */
export function startGrantd(dir, seedFile = seed) {
  const child = spawn(
    bin,
    ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite://${path.join(dir, 'grantd.db')}`, '--seed', seedFile],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('grantd did not start within 20 s')), 20_000);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/grantd listening on (\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ child, base: `http://${match[1]}` });
      }
    });
    child.on('exit', (code) => reject(new Error(`grantd exited with ${code}`)));
  });
}

/** Chromium with a profile in `dir`, JavaScript off, headless. */
export function launchBrowser(dir) {
  return chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: browserPath,
    headless: true,
    javaScriptEnabled: false,
    viewport: { width: 800, height: 640 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** A screenshot of the brand and what `main` shows, without the empty margins around them:
 * small enough for the README (docs/images/ holds copies). */
export async function cardShot(page, file) {
  const boxes = [await page.locator('header .brand').boundingBox()];
  for (const child of await page.locator('main > *').all()) boxes.push(await child.boundingBox());
  const margin = 16;
  const x = Math.max(0, Math.min(...boxes.map((b) => b.x)) - margin);
  const y = Math.max(0, Math.min(...boxes.map((b) => b.y)) - margin);
  const right = Math.max(...boxes.map((b) => b.x + b.width)) + margin;
  const bottom = Math.max(...boxes.map((b) => b.y + b.height)) + margin;
  await page.screenshot({ path: file, clip: { x, y, width: right - x, height: bottom - y } });
}
