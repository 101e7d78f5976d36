// grantd's account settings pages in a real browser (Debian's Chromium, playwright-core,
// JavaScript off), against a `grantd serve` binary seeded with examples/seed.toml. The browser
// signs in as `octocat` through /settings/tokens (sign-in first, then back), generates a
// personal access token on the form and reads it from the page; the token then works on
// GET /user. An app token made over the API is revoked on /settings/applications and fails the
// app's token check at once. A screenshot of every page is saved. Run by scripts/browser-tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { launchBrowser, shots, startGrantd } from './support.mjs';

// examples/seed.toml's user and OAuth app.
const LOGIN = 'octocat';
const PASSWORD = 'correct horse battery staple';
const CLIENT_ID = 'abcde12345fghij67890';
const CLIENT_SECRET = '3ef4ad510c59ad37bac6bb4f80047fb3aee3cc7f';

const basic = (user, secret) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** The app's check of a token: 200 while it works, 404 once revoked. */
async function appChecks(base, token) {
  const response = await fetch(`${base}/applications/${CLIENT_ID}/token`, {
    method: 'POST',
    headers: { authorization: basic(CLIENT_ID, CLIENT_SECRET), 'content-type': 'application/json' },
    body: JSON.stringify({ access_token: token }),
  });
  return response.status;
}

test('make a token and revoke an app on the settings pages (no JavaScript)', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grantd-browser-'));
  mkdirSync(shots, { recursive: true });
  const { child, base } = await startGrantd(dir);
  const context = await launchBrowser(dir);
  try {
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    const foreign = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base)) foreign.push(request.url());
    });

    // An app token of octocat's, made over the Authorizations API.
    const made = await fetch(`${base}/authorizations`, {
      method: 'POST',
      headers: { authorization: basic(LOGIN, PASSWORD), 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scopes: ['repo'] }),
    });
    assert.equal(made.status, 201);
    const appToken = (await made.json()).token;
    assert.equal(await appChecks(base, appToken), 200);

    // Signed out: sign in first, then back to the page asked for.
    await page.goto(`${base}/settings/tokens`);
    await page.waitForURL(`${base}/login?return_to=%2Fsettings%2Ftokens`);
    await page.getByLabel('Username').fill(LOGIN);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/settings/tokens`);
    assert.equal(await page.locator('h1').innerText(), 'Personal access tokens (classic)');
    await page.screenshot({ path: path.join(shots, 'settings-1-tokens.png'), fullPage: true });

    // Generate a token: note, expiration, scopes by their labels.
    await page.getByRole('link', { name: 'Generate new token' }).click();
    await page.waitForURL(`${base}/settings/tokens/new`);
    await page.getByLabel('Note', { exact: true }).fill('browser test');
    await page.getByLabel('Expiration', { exact: true }).selectOption('7');
    await page.getByLabel('read:user').check();
    await page.getByLabel('gist').check();
    await page.screenshot({ path: path.join(shots, 'settings-2-new-token.png'), fullPage: true });
    await page.getByRole('button', { name: 'Generate token' }).click();
    await page.getByText("You won't be able to see it again").waitFor();
    const token = await page.getByLabel('Token (select it and copy)').inputValue();
    assert.match(token, /^ghp_[A-Za-z0-9]{36}$/);
    await page.screenshot({ path: path.join(shots, 'settings-3-token-created.png'), fullPage: true });
    await page.getByRole('link', { name: 'Back to personal access tokens' }).click();
    await page.getByRole('button', { name: 'Regenerate browser test' }).waitFor();
    assert.match(await page.locator('main').innerText(), /Expires on/);
    assert.doesNotMatch(await page.content(), new RegExp(token));
    await page.screenshot({ path: path.join(shots, 'settings-3b-token-list.png'), fullPage: true });

    const user = await fetch(`${base}/user`, { headers: { authorization: `token ${token}` } });
    assert.equal(user.status, 200);
    assert.equal((await user.json()).login, LOGIN);
    assert.equal(user.headers.get('x-oauth-scopes'), 'gist, read:user');

    // Revoke the app: its token fails the app's check at once.
    await page.getByRole('link', { name: 'Applications' }).click();
    await page.waitForURL(`${base}/settings/applications`);
    assert.match(await page.locator('main').innerText(), /Full control of private repositories/);
    await page.screenshot({ path: path.join(shots, 'settings-4-applications.png'), fullPage: true });
    await page.getByRole('button', { name: 'Revoke my oauth app' }).click();
    await page.waitForURL(`${base}/settings/applications?notice=revoked`);
    assert.match(await page.locator('[role=status]').innerText(), /revoked/);
    assert.equal(await appChecks(base, appToken), 404);
    await page.screenshot({ path: path.join(shots, 'settings-5-revoked.png'), fullPage: true });

    // The personal token is untouched; the other pages render.
    const again = await fetch(`${base}/user`, { headers: { authorization: `token ${token}` } });
    assert.equal(again.status, 200);
    for (const [name, file] of [['Password and authentication', 'settings-6-security.png'], ['Developer settings', 'settings-7-developers.png']]) {
      await page.getByRole('link', { name }).click();
      assert.equal(await page.locator('h1').innerText(), name);
      await page.screenshot({ path: path.join(shots, file), fullPage: true });
    }

    assert.deepEqual(foreign, [], 'requests left grantd');
  } finally {
    await context.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
