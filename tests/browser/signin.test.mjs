// grantd's sign-in pages in a real browser: Debian's Chromium driven by playwright-core (no
// browser download), with JavaScript turned off in the page, against a `grantd serve` binary on
// a loopback port seeded with examples/seed.toml. Signs in as the 2FA user `hubot` (password,
// then a TOTP code computed here with RFC 6238), lands on the signed-in page and signs out,
// saving a screenshot of every page. Run by scripts/browser-tests.
//
// The environment it reads is described in support.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { launchBrowser, shots, startGrantd } from './support.mjs';
import { totp } from './totp.mjs';

// examples/seed.toml's two-factor user.
const LOGIN = 'hubot';
const PASSWORD = 'open the pod bay doors';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXP';

test('sign in with password and TOTP, land on the signed-in page, sign out (no JavaScript)', { timeout: 90_000 }, async () => {
  assert.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59), '287082', 'RFC 6238 test vector');
  const dir = mkdtempSync(path.join(tmpdir(), 'grantd-browser-'));
  mkdirSync(shots, { recursive: true });
  const { child, base } = await startGrantd(dir);
  const context = await launchBrowser(dir);
  try {
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    // The pages load nothing from elsewhere: every request stays on grantd.
    const foreign = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base)) foreign.push(request.url());
    });

    const first = await page.goto(`${base}/login`);
    assert.equal(first.status(), 200);
    assert.match(first.headers()['content-security-policy'], /default-src 'none'/);
    assert.equal(await page.title(), 'Sign in · grantd');
    await page.screenshot({ path: path.join(shots, '1-sign-in.png'), fullPage: true });

    // A wrong password: the form again, with the message.
    await page.getByLabel('Username').fill(LOGIN);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState();
    assert.match(await page.locator('[role=alert]').innerText(), /Incorrect username or password\./);
    await page.screenshot({ path: path.join(shots, '2-incorrect-password.png'), fullPage: true });

    // The right one: the two-factor page.
    await page.getByLabel('Username').fill(LOGIN);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/sessions/two-factor`);
    assert.equal(await page.locator('h1').innerText(), 'Two-factor authentication');
    await page.screenshot({ path: path.join(shots, '3-two-factor.png'), fullPage: true });

    await page.getByLabel('Authentication code').fill(totp(TOTP_SECRET));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.waitForURL(`${base}/login`);
    assert.equal(await page.locator('main p').first().innerText(), `Signed in as ${LOGIN}.`);
    await page.screenshot({ path: path.join(shots, '4-signed-in.png'), fullPage: true });

    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === 'user_session');
    assert.ok(session, 'a user_session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/login`);
    await page.getByLabel('Username').waitFor();
    assert.equal(await page.locator('h1').innerText(), 'Sign in to grantd');
    assert.equal((await context.cookies(base)).some((c) => c.name === 'user_session'), false);
    await page.screenshot({ path: path.join(shots, '5-signed-out.png'), fullPage: true });

    assert.deepEqual(foreign, [], 'requests left grantd');
  } finally {
    await context.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
