// The security log (/settings/security-log) in a real browser (Debian's Chromium,
// playwright-core, JavaScript off), against a `grantd serve` binary seeded with
// examples/seed.toml. `octocat` fails to sign in once, signs in, generates a personal access
// token on /settings/tokens, uses it on GET /user and deletes it: the log then shows exactly
// those four events, each with its time, actor, source address and the browser's user agent.
// `hubot` (another browser) signs in too: neither log ever shows the other's events, on any
// of its pages. Thirty more tokens made over the Authorizations API page the log. A screenshot of every page
// is saved, and readme-settings.png for the README. Run by scripts/browser-tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { cardShot, launchBrowser, shots, startGrantd } from './support.mjs';
import { totp } from './totp.mjs';

// examples/seed.toml's users; hubot has two-factor authentication on.
const OCTOCAT = { login: 'octocat', password: 'correct horse battery staple' };
const HUBOT = { login: 'hubot', password: 'open the pod bay doors', totpSecret: 'JBSWY3DPEHPK3PXP' };
const LOG = '/settings/security-log';
// As the page writes times: UTC, to the second (the date and the time may wrap apart).
const TIME = /^\d{4}-\d\d-\d\d\s\d\d:\d\d:\d\d UTC$/;

const basic = (user, secret) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** The events the page shows, newest first, one object per row of its table. */
async function events(page) {
  const rows = [];
  for (const row of await page.locator('table.events tbody tr').all()) {
    const text = async (selector) => {
      const found = row.locator(selector);
      return (await found.count()) ? found.innerText() : '';
    };
    rows.push({
      action: await text('.action'),
      time: await text('time'),
      actor: await text('.actor'),
      user: await text('.subject'),
      address: await text('.address'),
      agent: await text('.agent'),
      details: await text('.details'),
    });
  }
  return rows;
}

/** Signs `who` in on the sign-in page the browser was sent to: a wrong password first (the
 * form again, with the message), then the right one (and a TOTP code if `who` has 2FA). */
async function signIn(page, who) {
  await page.getByLabel('Username').fill(who.login);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
  assert.match(await page.locator('[role=alert]').innerText(), /Incorrect username or password\./);
  await page.getByLabel('Username').fill(who.login);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (who.totpSecret) {
    await page.getByLabel('Authentication code').fill(totp(who.totpSecret));
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
  }
}

test('the security log shows only the signed-in user\'s events, with their source, page by page (no JavaScript)', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'grantd-browser-'));
  mkdirSync(shots, { recursive: true });
  const { child, base } = await startGrantd(dir);
  const context = await launchBrowser(dir);
  const other = await launchBrowser(path.join(dir, 'hubot'));
  try {
    context.setDefaultTimeout(15_000);
    other.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    const foreign = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base)) foreign.push(request.url());
    });

    // Signed out: the log sends the browser to sign in, and back.
    const first = await page.goto(`${base}${LOG}`);
    const agent = first.request().headers()['user-agent'];
    assert.match(agent, /Chrome\//);
    await page.waitForURL(`${base}/login?return_to=%2Fsettings%2Fsecurity-log`);
    await signIn(page, OCTOCAT);
    await page.waitForURL(`${base}${LOG}`);
    assert.equal(await page.locator('h1').innerText(), 'Security log');
    assert.deepEqual(
      (await events(page)).map((e) => e.action),
      ['user.login', 'user.failed_login'],
    );

    // A personal access token: generated on the page, used on GET /user, deleted.
    await page.getByRole('link', { name: 'Personal access tokens' }).click();
    await page.getByRole('link', { name: 'Generate new token' }).click();
    await page.getByLabel('Note', { exact: true }).fill('deploy script');
    await page.getByLabel('read:user').check();
    await page.getByRole('button', { name: 'Generate token' }).click();
    await page.getByText("You won't be able to see it again").waitFor();
    const token = await page.getByLabel('Token (select it and copy)').inputValue();
    assert.match(token, /^ghp_[A-Za-z0-9]{36}$/);
    // The README's picture: the token shown once, on a phone-sized page (340 px, as the
    // others), where the settings menu wraps above the page.
    await page.setViewportSize({ width: 340, height: 1200 });
    await cardShot(page, path.join(shots, 'readme-settings.png'));
    await page.setViewportSize({ width: 800, height: 640 });
    const user = await fetch(`${base}/user`, { headers: { authorization: `token ${token}` } });
    assert.equal(user.status, 200);
    assert.equal((await user.json()).login, OCTOCAT.login);
    await page.getByRole('link', { name: 'Back to personal access tokens' }).click();
    await page.getByRole('button', { name: 'Delete deploy script' }).click();
    await page.waitForURL(`${base}/settings/tokens?notice=token-deleted`);
    const gone = await fetch(`${base}/user`, { headers: { authorization: `token ${token}` } });
    assert.equal(gone.status, 401);

    // The log: the four events, newest first, each with its time, actor, address and agent.
    await page.getByRole('link', { name: 'Security log' }).click();
    await page.waitForURL(`${base}${LOG}`);
    const mine = await events(page);
    assert.deepEqual(
      mine.map((e) => e.action),
      ['oauth_access.destroy', 'oauth_access.create', 'user.login', 'user.failed_login'],
    );
    for (const e of mine) {
      assert.match(e.time, TIME, e.action);
      assert.equal(e.actor, OCTOCAT.login, e.action);
      assert.equal(e.user, '', 'about the actor themself');
      assert.equal(e.address, '127.0.0.1', e.action);
      assert.equal(e.agent, agent, e.action);
    }
    assert.deepEqual(mine.map((e) => e.time), mine.map((e) => e.time).sort().reverse(), 'newest first');
    assert.equal(await page.getByRole('link', { name: 'Older events' }).count(), 0, 'one page');
    await page.screenshot({ path: path.join(shots, 'security-log-1.png'), fullPage: true });
    // Long values wrap: the table fits the page, at 800 px and on a phone.
    for (const width of [800, 340]) {
      await page.setViewportSize({ width, height: 640 });
      const wide = await page.locator('table.events').boundingBox();
      assert.ok(wide.x + wide.width <= width, `the table fits ${width} px`);
    }
    await page.screenshot({ path: path.join(shots, 'security-log-1-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 800, height: 640 });

    // hubot, in a browser of its own, fails and signs in too: its log has its two events only.
    const hubot = other.pages()[0] ?? (await other.newPage());
    await hubot.goto(`${base}${LOG}`);
    await signIn(hubot, HUBOT);
    await hubot.waitForURL(`${base}${LOG}`);
    const hubots = await events(hubot);
    assert.deepEqual(hubots.map((e) => e.action), ['user.login', 'user.failed_login']);
    assert.ok(hubots.every((e) => e.actor === HUBOT.login), JSON.stringify(hubots));
    assert.doesNotMatch(await hubot.locator('main table').innerText(), /octocat/);
    await hubot.screenshot({ path: path.join(shots, 'security-log-2-other-user.png'), fullPage: true });
    // ...and octocat's is as it was.
    await page.reload();
    assert.deepEqual(await events(page), mine);
    assert.doesNotMatch(await page.locator('main table').innerText(), /hubot/);

    // Thirty more events, tokens made over the Authorizations API (`oauth_authorization.create`
    // there, as docs/security.md lists): the log pages at thirty, newest first; the older page
    // holds the four from the browser, and still nothing of hubot's.
    for (let n = 0; n < 30; n++) {
      const made = await fetch(`${base}/authorizations`, {
        method: 'POST',
        headers: { authorization: basic(OCTOCAT.login, OCTOCAT.password), 'content-type': 'application/json' },
        body: JSON.stringify({ note: `api ${n}`, scopes: [] }),
      });
      assert.equal(made.status, 201);
    }
    await page.reload();
    const newest = await events(page);
    assert.equal(newest.length, 30);
    assert.equal(await page.getByRole('link', { name: 'Newest events' }).count(), 0, 'the first page');
    assert.deepEqual([...new Set(newest.map((e) => `${e.action} by ${e.actor}`))], ['oauth_authorization.create by octocat']);
    assert.ok(newest.every((e) => e.agent !== agent && e.address === '127.0.0.1'), 'made by fetch');
    // Each names its token: thirty ids in a row, the last made first.
    const ids = newest.map((e) => Number(e.details.match(/token_id: (\d+)/)?.[1]));
    assert.deepEqual(ids, ids.map((_, i) => ids[0] - i), 'newest first, none left out');
    await page.screenshot({ path: path.join(shots, 'security-log-3-newest.png'), fullPage: true });
    await page.getByRole('link', { name: 'Older events' }).click();
    await page.waitForURL(new RegExp(`${LOG}\\?after=`));
    assert.deepEqual(await events(page), mine);
    assert.equal(await page.getByRole('link', { name: 'Older events' }).count(), 0, 'the last page');
    await page.screenshot({ path: path.join(shots, 'security-log-4-older.png'), fullPage: true });
    await page.getByRole('link', { name: 'Newest events' }).click();
    await page.waitForURL(`${base}${LOG}`);
    assert.deepEqual(await events(page), newest);

    assert.deepEqual(foreign, [], 'requests left grantd');
  } finally {
    await context.close();
    await other.close();
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
