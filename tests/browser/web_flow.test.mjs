// The OAuth web application flow in a real browser (Debian's Chromium, playwright-core,
// JavaScript off), as a user meets it: an app sends the browser to /login/oauth/authorize; the
// user signs in as the two-factor user `hubot` (password, then a TOTP code), lands on the consent
// page, authorizes, and the browser arrives at the app's callback with a code and the state;
// the "app" (this script) exchanges the code, with its PKCE verifier, for a token that works.
// A screenshot of every page is saved. Run by scripts/browser-tests; the environment it reads
// is described in support.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { cardShot, launchBrowser, seed, shots, startGrantd } from './support.mjs';
import { totp } from './totp.mjs';

// examples/seed.toml's OAuth app, given a loopback callback URL here (a loopback callback
// takes any port, so the callback server below may listen wherever it is given a port).
const CLIENT_ID = 'abcde12345fghij67890';
const CLIENT_SECRET = '3ef4ad510c59ad37bac6bb4f80047fb3aee3cc7f';
const LOGIN = 'hubot';
const PASSWORD = 'open the pod bay doors';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXP';

/** The app's side: a callback page on a loopback port that records each query it gets. */
function startCallback() {
  const seen = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    seen.push(url);
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>My OAuth app</title><h1>Signed in to my OAuth app</h1>');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, seen, port: server.address().port }));
  });
}

test('sign in with TOTP, authorize on the consent page, arrive at the callback (no JavaScript)', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grantd-browser-'));
  mkdirSync(shots, { recursive: true });
  const seedFile = path.join(dir, 'seed.toml');
  writeFileSync(
    seedFile,
    readFileSync(seed, 'utf8').replace(
      'url = "http://my-oauth-app.example"\n',
      'url = "http://my-oauth-app.example"\ncallback_url = "http://127.0.0.1/callback"\n',
    ),
  );
  const { child, base } = await startGrantd(dir, seedFile);
  const callback = await startCallback();
  const context = await launchBrowser(dir);
  try {
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = `${base}/login/oauth/authorize?${new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      scope: 'repo gist',
      state: 'xyzzy',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    })}`;

    // Not signed in: the sign-in page first, which comes back to the authorization.
    await page.goto(authorize);
    await page.waitForURL(/\/login\?return_to=/);
    await page.getByLabel('Username').fill(LOGIN);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/sessions\/two-factor/);
    await page.getByLabel('Authentication code').fill(totp(TOTP_SECRET));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();

    // The consent page: the app, its owner and each scope in words.
    await page.waitForURL(/\/login\/oauth\/authorize\?/);
    assert.equal(await page.locator('h1').innerText(), 'Authorize my oauth app');
    const consent = await page.locator('main').innerText();
    assert.match(consent, /octocat/);
    assert.match(consent, /Full control of private repositories/);
    assert.match(consent, /Create gists/);
    await page.screenshot({ path: path.join(shots, 'web-1-authorize.png'), fullPage: true });
    await cardShot(page, path.join(shots, 'readme-authorize.png'));

    // Authorize: the browser lands on the app's callback with a code and the state.
    await page.getByRole('button', { name: 'Authorize octocat' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    assert.equal(await page.locator('h1').innerText(), 'Signed in to my OAuth app');
    await page.screenshot({ path: path.join(shots, 'web-2-callback.png'), fullPage: true });
    // (The browser also asks the app's origin for /favicon.ico.)
    const arrivals = callback.seen.filter((url) => url.pathname === '/callback');
    assert.equal(arrivals.length, 1);
    const query = arrivals[0].searchParams;
    assert.equal(query.get('state'), 'xyzzy');
    const code = query.get('code');
    assert.match(code, /^[0-9a-f]{20}$/);

    // The app's side: the code and the PKCE verifier for a token of hubot's.
    const exchange = await fetch(`${base}/login/oauth/access_token`, {
      method: 'POST',
      headers: { accept: 'application/json' },
      body: new URLSearchParams({
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      }),
    });
    const answer = await exchange.json();
    assert.match(answer.access_token, /^gho_/, JSON.stringify(answer));
    assert.equal(answer.scope, 'repo,gist');
    const user = await fetch(`${base}/api/v3/user`, {
      headers: { authorization: `token ${answer.access_token}` },
    });
    assert.equal(user.status, 200);
    assert.equal((await user.json()).login, LOGIN);
  } finally {
    await context.close();
    callback.server.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
