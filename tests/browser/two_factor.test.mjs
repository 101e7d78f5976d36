// Two-factor authentication turned on in a real browser (Debian's Chromium, playwright-core,
// JavaScript off) against a `grantd serve` binary seeded with examples/seed.toml: `octocat`
// (password only) opens /settings/security, enables 2FA by reading the setup key's text from the
// page (as a person types it into an app), confirms with a code computed here (RFC 6238), sees
// the recovery codes once, then signs in again with password and a code. Screenshots of the QR
// code page and the recovery codes. Run by scripts/browser-tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { launchBrowser, shots, startGrantd } from './support.mjs';

// examples/seed.toml's password-only user.
const LOGIN = 'octocat';
const PASSWORD = 'correct horse battery staple';

/** RFC 4648 base32, as TOTP secrets are written. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of text.replace(/=+$/, '')) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP: HMAC-SHA1, 30-second steps, 6 digits (RFC 4226 dynamic truncation). */
function totp(secret, unixSeconds = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

test('enable two-factor authentication from the settings page and sign in with a code', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grantd-browser-'));
  mkdirSync(shots, { recursive: true });
  const { child, base } = await startGrantd(dir);
  const context = await launchBrowser(dir);
  try {
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    const signIn = async () => {
      await page.getByLabel('Username').fill(LOGIN);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
    };

    await page.goto(`${base}/settings/security`);
    await signIn();
    await page.waitForURL(`${base}/settings/security`);
    await page.getByRole('link', { name: 'Enable two-factor authentication' }).click();
    await page.waitForURL(`${base}/settings/security/two-factor/setup`);
    assert.equal(await page.locator('h1').innerText(), 'Set up two-factor authentication');
    assert.ok(await page.getByRole('img', { name: 'QR code of the two-factor secret' }).isVisible());
    const secret = await page.getByLabel('Setup key').inputValue();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await page.screenshot({ path: path.join(shots, 'two-factor-1-setup-qr.png'), fullPage: true });

    // A wrong code: the same secret again, with the message.
    await page.getByLabel('Authentication code').fill('000000');
    await page.getByRole('button', { name: 'Enable two-factor authentication' }).click();
    await page.waitForLoadState();
    assert.match(await page.locator('[role=alert]').innerText(), /verification failed/);
    assert.equal(await page.getByLabel('Setup key').inputValue(), secret);

    await page.getByLabel('Authentication code').fill(totp(secret));
    await page.getByRole('button', { name: 'Enable two-factor authentication' }).click();
    await page.getByText("you won't be able to see them again").waitFor();
    const codes = await page.getByRole('list', { name: 'Recovery codes' }).locator('li').allInnerTexts();
    assert.equal(codes.length, 16);
    for (const code of codes) assert.match(code, /^[0-9a-f]{5}-[0-9a-f]{5}$/);
    await page.screenshot({ path: path.join(shots, 'two-factor-2-recovery-codes.png'), fullPage: true });

    // Signed out: the password now leads to the code, computed from the secret read above
    // (confirming recorded no step, so even the code that confirmed signs in, once).
    await context.clearCookies();
    await page.goto(`${base}/login`);
    await signIn();
    await page.waitForURL(`${base}/sessions/two-factor`);
    await page.getByLabel('Authentication code').fill(totp(secret));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.waitForURL(`${base}/login`);
    assert.equal(await page.locator('main p').first().innerText(), `Signed in as ${LOGIN}.`);
    await page.goto(`${base}/settings/security`);
    assert.match(await page.locator('main').innerText(), /Enabled: sign-in asks for a code/);
    await page.screenshot({ path: path.join(shots, 'two-factor-3-enabled.png'), fullPage: true });
  } finally {
    await context.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
