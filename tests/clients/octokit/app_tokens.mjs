// Drives grantd's app token API with GitHub's own JavaScript client, as a GitHub App would.
// Run by tests/api/octokit.rs:
//
//   node app_tokens.mjs BASE_URL CLIENT_ID CLIENT_SECRET TOKEN USER_LOGIN TARGET REPOSITORY
//
// TOKEN is a live, non-scoped user token of the GitHub App CLIENT_ID for USER_LOGIN; TARGET is
// an account USER_LOGIN may act for and REPOSITORY one of TARGET's repositories. Every step
// asserts on what the client returns; any failure exits non-zero. On success the last line of
// standard output is a JSON object with the tokens made, for the Rust test to verify over HTTP.

import assert from "node:assert/strict";

import {
  checkToken,
  deleteAuthorization,
  deleteToken,
  resetToken,
  scopeToken,
} from "@octokit/oauth-methods";
import { request } from "@octokit/request";
import { Octokit } from "@octokit/rest";

const [baseUrl, clientId, clientSecret, token, userLogin, target, repository] =
  process.argv.slice(2);
if (!repository) {
  console.error(
    "usage: node app_tokens.mjs BASE_URL CLIENT_ID CLIENT_SECRET TOKEN USER_LOGIN TARGET REPOSITORY",
  );
  process.exit(2);
}

const app = {
  clientType: "github-app",
  clientId,
  clientSecret,
  request: request.defaults({ baseUrl }),
};

function step(name) {
  console.log(`- ${name}`);
}

/** Asserts that `promise` rejects with an HTTP error of `status`. */
async function rejectsWith(promise, status, what) {
  await assert.rejects(
    promise,
    (error) => {
      assert.equal(error.status, status, `${what}: status ${error.status}, expected ${status}`);
      return true;
    },
    `${what} should fail with ${status}`,
  );
}

async function main() {
  step("checkToken returns the token sent and its user");
  const checked = await checkToken({ ...app, token });
  assert.equal(checked.status, 200);
  assert.equal(checked.data.token, token);
  assert.equal(checked.data.user.login, userLogin);
  assert.equal(checked.data.user.type, "User");
  assert.equal(checked.data.app.client_id, clientId);
  assert.equal(checked.data.installation, null);
  assert.deepEqual(checked.authentication, {
    clientType: "github-app",
    clientId,
    clientSecret,
    token,
  });
  const id = checked.data.id;

  step("@octokit/rest users.getAuthenticated with the token");
  const octokit = new Octokit({ baseUrl, auth: token });
  const me = await octokit.rest.users.getAuthenticated();
  assert.equal(me.status, 200);
  assert.equal(me.data.login, userLogin);
  assert.equal(me.data.id, checked.data.user.id);
  assert.equal(typeof me.headers["x-oauth-scopes"], "string");

  step("scopeToken makes a new, scoped token");
  const scoped = await scopeToken({
    ...app,
    token,
    target,
    repositories: [repository],
    permissions: { contents: "read", metadata: "read" },
  });
  assert.equal(scoped.status, 200);
  const scopedToken = scoped.authentication.token;
  assert.match(scopedToken, /^ghu_[0-9A-Za-z]{36}$/);
  assert.notEqual(scopedToken, token);
  assert.equal(scoped.data.token, scopedToken);
  assert.equal(scoped.data.user.login, userLogin);
  assert.equal(scoped.data.installation.repository_selection, "selected");
  assert.equal(scoped.data.installation.account.login.toLowerCase(), target.toLowerCase());
  assert.deepEqual(scoped.data.installation.permissions, { contents: "read", metadata: "read" });
  assert.deepEqual(scoped.data.scopes, []);

  step("checkToken of the scoped token shows its installation");
  const scopedChecked = await checkToken({ ...app, token: scopedToken });
  assert.equal(scopedChecked.data.token, scopedToken);
  assert.deepEqual(scopedChecked.data.installation, scoped.data.installation);

  step("the original token still works after scoping");
  assert.equal((await checkToken({ ...app, token })).data.token, token);

  step("resetToken gives the same authorization a new token");
  const reset = await resetToken({ ...app, token });
  assert.equal(reset.status, 200);
  const newToken = reset.authentication.token;
  assert.match(newToken, /^ghu_[0-9A-Za-z]{36}$/);
  assert.notEqual(newToken, token);
  assert.equal(reset.data.id, id);
  assert.equal(reset.data.user.login, userLogin);

  step("the old token is rejected at once (404), the new one works");
  await rejectsWith(checkToken({ ...app, token }), 404, "checkToken(old token)");
  await rejectsWith(
    new Octokit({ baseUrl, auth: token }).rest.users.getAuthenticated(),
    401,
    "GET /user with the old token",
  );
  assert.equal((await checkToken({ ...app, token: newToken })).data.token, newToken);

  step("deleteToken revokes the scoped token");
  const deleted = await deleteToken({ ...app, token: scopedToken });
  assert.equal(deleted.status, 204);
  await rejectsWith(checkToken({ ...app, token: scopedToken }), 404, "checkToken(scoped)");
  assert.equal((await checkToken({ ...app, token: newToken })).data.token, newToken);

  step("deleteAuthorization deletes the grant");
  const grantDeleted = await deleteAuthorization({ ...app, token: newToken });
  assert.equal(grantDeleted.status, 204);
  await rejectsWith(checkToken({ ...app, token: newToken }), 404, "checkToken(new token)");

  step("a wrong client secret is rejected with 401");
  await rejectsWith(
    checkToken({ ...app, clientSecret: "0".repeat(40), token: newToken }),
    401,
    "checkToken with a wrong secret",
  );

  console.log(JSON.stringify({ original: token, scoped: scopedToken, reset: newToken }));
}

main().catch((error) => {
  console.error(`FAILED: ${error.message}`);
  if (error.status) console.error(`HTTP status ${error.status}`);
  if (error.response) console.error(JSON.stringify(error.response.data));
  if (error.stack) console.error(error.stack);
  process.exit(1);
});
