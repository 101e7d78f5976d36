// grantd's device-flow pages in a real browser (Debian's Chromium, playwright-core, JavaScript
// off), against a `grantd serve` binary seeded with examples/seed.toml, whose "my oauth app" has
// the device flow on. A "device" (this script, over HTTP) asks for codes and polls; the browser
// opens the verification URI, signs in as `octocat`, enters the code in lower case without its
// hyphen, authorizes on the consent page and sees the "connected" page; the next poll gets the
// token. A screenshot of every page is saved. Run by scripts/browser-tests; the environment it
// reads is described in support.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { cardShot, launchBrowser, shots, startGrantd } from './support.mjs';

// examples/seed.toml's OAuth app (device flow on) and its owner.
const CLIENT_ID = 'abcde12345fghij67890';
const LOGIN = 'octocat';
const PASSWORD = 'correct horse battery staple';
const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** POSTs a form to grantd as a device would, asking for JSON. */
async function post(base, route, fields) {
  const response = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { accept: 'application/json' },
    body: new URLSearchParams(fields),
  });
  assert.equal(response.status, 200, route);
  return response.json();
}

test('connect a device: sign in, enter the code, authorize, connected (no JavaScript)', { timeout: 90_000 }, async () => {
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

    // The device's side: codes, and a first poll that is still pending.
    const codes = await post(base, '/login/device/code', { client_id: CLIENT_ID, scope: 'repo gist' });
    assert.equal(codes.verification_uri, `${base}/login/device`);
    const poll = () =>
      post(base, '/login/oauth/access_token', {
        client_id: CLIENT_ID,
        device_code: codes.device_code,
        grant_type: GRANT_TYPE,
      });
    assert.equal((await poll()).error, 'authorization_pending');

    // The user's side: the verification URI asks for a sign-in first, then comes back.
    await page.goto(codes.verification_uri);
    await page.waitForURL(`${base}/login?return_to=%2Flogin%2Fdevice`);
    await page.screenshot({ path: path.join(shots, 'device-1-sign-in.png'), fullPage: true });
    await page.getByLabel('Username').fill(LOGIN);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/login/device`);
    assert.equal(await page.locator('h1').innerText(), 'Device activation');
    await page.screenshot({ path: path.join(shots, 'device-2-enter-code.png'), fullPage: true });
    await cardShot(page, path.join(shots, 'readme-device.png'));

    // Lower case, no hyphen: forgiven.
    await page.getByLabel('Enter the code displayed on your device').fill(codes.user_code.toLowerCase().replace('-', ''));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: `Authorize ${LOGIN}` }).waitFor();
    assert.equal(await page.locator('h1').innerText(), 'Authorize my oauth app');
    const consent = await page.locator('main').innerText();
    assert.match(consent, /Full control of private repositories/);
    assert.match(consent, /Create gists/);
    await page.screenshot({ path: path.join(shots, 'device-3-authorize.png'), fullPage: true });

    await page.getByRole('button', { name: `Authorize ${LOGIN}` }).click();
    await page.getByText('Connect another device').waitFor();
    assert.equal(await page.locator('h1').innerText(), 'Device connected');
    assert.match(await page.locator('[role=status]').innerText(), /Your device is now connected\./);
    await page.screenshot({ path: path.join(shots, 'device-4-connected.png'), fullPage: true });

    // The device's next poll gets its token.
    const answer = await poll();
    assert.match(answer.access_token, /^gho_/);
    assert.equal(answer.scope, 'repo,gist');
    assert.equal(answer.token_type, 'bearer');

    assert.deepEqual(foreign, [], 'requests left grantd');
  } finally {
    await context.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
