// The developer settings and the site admin's /stafftools/users in a real browser (Debian's
// Chromium, playwright-core, JavaScript off), against a `grantd serve` binary seeded with
// examples/seed.toml plus a site admin. The admin registers an OAuth app on
// /settings/developers and reads its secret from the page, which the app API then accepts;
// rotates it with two secrets live (both work; the old one, deleted, stops at once); then
// suspends octocat on /stafftools/users (octocat's password stops working at once) and
// lifts it; the audit log, filtered by user and action, shows the suspension by the admin. A
// screenshot of every page is saved. Run by scripts/browser-tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser, shots, startGrantd } from './support.mjs';

const ADMIN = 'site-admin';
const ADMIN_PASSWORD = 'a site admin password';
const OCTOCAT = 'octocat';
const OCTOCAT_PASSWORD = 'correct horse battery staple';

const here = path.dirname(fileURLToPath(import.meta.url));
const basic = (user, secret) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** GET /authorizations with a login and password: 200, or 403 once the account is suspended. */
async function basicUser(base, login, password) {
  const response = await fetch(`${base}/authorizations`, { headers: { authorization: basic(login, password) } });
  return response.status;
}

test('register an app and suspend a user on the admin pages (no JavaScript)', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grantd-browser-'));
  mkdirSync(shots, { recursive: true });
  const seed = path.join(dir, 'seed.toml');
  writeFileSync(
    seed,
    `${readFileSync(path.join(here, '../../examples/seed.toml'), 'utf8')}
[[users]]
login = "${ADMIN}"
password = "${ADMIN_PASSWORD}"
site_admin = true
`,
  );
  const { child, base } = await startGrantd(dir, seed);
  const context = await launchBrowser(dir);
  try {
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());

    // Signed out: sign in first, then back to the page asked for.
    await page.goto(`${base}/settings/developers`);
    await page.getByLabel('Username').fill(ADMIN);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/settings/developers`);
    await page.getByRole('link', { name: 'New OAuth App' }).click();

    // Register an OAuth app; its secret is shown once and the app API takes it.
    await page.getByLabel('Application name').fill('browser app');
    await page.getByLabel('Homepage URL').fill('https://browser-app.example');
    await page.getByLabel('Authorization callback URL').fill('https://browser-app.example/callback');
    await page.getByLabel('Enable Device Flow').check();
    await page.screenshot({ path: path.join(shots, 'admin-1-new-app.png'), fullPage: true });
    await page.getByRole('button', { name: 'Register application' }).click();
    await page.getByText("You won't be able to see it again").waitFor();
    const clientId = await page.locator('#client-id').innerText();
    const secret = await page.getByLabel('Client secret (select it and copy)').inputValue();
    assert.match(secret, /^[0-9a-f]{40}$/);
    await page.screenshot({ path: path.join(shots, 'admin-2-app-secret.png'), fullPage: true });
    const check = (clientSecret) =>
      fetch(`${base}/applications/${clientId}/token`, {
        method: 'POST',
        headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/json' },
        body: JSON.stringify({ access_token: `gho_${'a'.repeat(36)}` }),
      }).then((r) => r.status);
    assert.equal(await check(secret), 404, 'the app signs in; the token is unknown');
    assert.equal(await check('0'.repeat(40)), 401, 'a wrong secret is refused');

    // Rotate without downtime: a second secret, both work; a third is refused; deleting the
    // old one stops it at once while the new one goes on.
    await page.goto(`${base}/settings/developers`);
    await page.getByRole('button', { name: 'Generate a new client secret for browser app' }).click();
    await page.getByText("You won't be able to see it again").waitFor();
    const rotated = await page.getByLabel('Client secret (select it and copy)').inputValue();
    assert.notEqual(rotated, secret);
    assert.equal(await check(secret), 404, 'the old secret still signs in');
    assert.equal(await check(rotated), 404, 'the new secret signs in');
    await page.goto(`${base}/settings/developers`);
    await page.getByRole('button', { name: 'Generate a new client secret for browser app' }).click();
    await page.getByText('You can have at most two client secrets').waitFor();
    const secrets = page.getByRole('list', { name: 'Client secrets of browser app' });
    assert.match(await secrets.innerText(), new RegExp(`\\*{5}${secret.slice(32)}[\\s\\S]*\\*{5}${rotated.slice(32)}`));
    await page.screenshot({ path: path.join(shots, 'admin-3-two-secrets.png'), fullPage: true });
    await page
      .getByRole('button', { name: `Delete client secret *****${secret.slice(32)} of browser app` })
      .click();
    await page.getByText('The client secret was deleted').waitFor();
    assert.equal(await check(secret), 401, 'the deleted secret is refused at once');
    assert.equal(await check(rotated), 404, 'the new secret goes on');

    // Suspend octocat: the password stops working at once; unsuspend brings it back.
    assert.equal(await basicUser(base, OCTOCAT, OCTOCAT_PASSWORD), 200);
    await page.goto(`${base}/stafftools/users`);
    assert.equal(await page.locator('h1').innerText(), 'Users');
    await page.getByLabel(`Reason for suspending ${OCTOCAT}`).fill('browser test');
    await page.getByRole('button', { name: `Suspend ${OCTOCAT}`, exact: true }).click();
    await page.getByRole('button', { name: `Unsuspend ${OCTOCAT}` }).waitFor();
    assert.match(await page.locator('main').innerText(), /Suspended since .*: browser test/);
    assert.equal(await basicUser(base, OCTOCAT, OCTOCAT_PASSWORD), 403);
    await page.screenshot({ path: path.join(shots, 'admin-4-suspended.png'), fullPage: true });
    await page.getByRole('button', { name: `Unsuspend ${OCTOCAT}` }).click();
    await page.getByRole('button', { name: `Suspend ${OCTOCAT}`, exact: true }).waitFor();
    assert.equal(await basicUser(base, OCTOCAT, OCTOCAT_PASSWORD), 200);
    await page.screenshot({ path: path.join(shots, 'admin-5-unsuspended.png'), fullPage: true });

    // The audit log, filtered on its form: the suspension, by the admin, about octocat.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('User', { exact: true }).fill(OCTOCAT);
    await page.getByLabel(/^Action/).fill('user.suspend');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(`${base}/stafftools/audit-log?user=${OCTOCAT}&action=user.suspend`);
    const rows = page.locator('table.events tbody tr');
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.locator('.action').innerText(), 'user.suspend');
    assert.equal(await rows.locator('.actor').innerText(), ADMIN);
    assert.equal(await rows.locator('.subject').innerText(), OCTOCAT);
    assert.match(await rows.locator('.details').innerText(), /browser test/);
    const table = await page.locator('table.events').boundingBox();
    assert.ok(table.x + table.width <= 800, 'the table fits the page');
    await page.screenshot({ path: path.join(shots, 'admin-6-audit-log.png'), fullPage: true });
  } finally {
    await context.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
