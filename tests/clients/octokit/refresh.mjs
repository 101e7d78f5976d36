// An expiring GitHub App's user token renewed with GitHub's own JavaScript client, as an app's
// sign-in code runs it. Run by tests/api/refresh.rs:
//
//   node refresh.mjs BASE_URL CLIENT_ID CLIENT_SECRET CODE
//
// Exchanges CODE with `exchangeWebFlowCode` (clientType "github-app"), refreshes the token
// with `refreshToken`, then asserts that the used refresh token is refused with
// bad_refresh_token. The last line of standard output is {"first": …, "second": …}, both
// `authentication` objects as JSON, for the Rust test to verify over HTTP.

import assert from "node:assert/strict";

import { exchangeWebFlowCode, refreshToken } from "@octokit/oauth-methods";
import { request } from "@octokit/request";

const [baseUrl, clientId, clientSecret, code] = process.argv.slice(2);
if (!code) {
  console.error("usage: node refresh.mjs BASE_URL CLIENT_ID CLIENT_SECRET CODE");
  process.exit(2);
}

const common = {
  clientType: "github-app",
  clientId,
  clientSecret,
  request: request.defaults({ baseUrl }),
};

const { authentication: first } = await exchangeWebFlowCode({ ...common, code });
assert.match(first.token, /^ghu_/);
assert.match(first.refreshToken, /^ghr_/);
// octokit turns expires_in and refresh_token_expires_in into timestamps: both must be numbers.
assert.ok(Date.parse(first.expiresAt) > Date.now());
assert.ok(Date.parse(first.refreshTokenExpiresAt) > Date.parse(first.expiresAt));

const { authentication: second } = await refreshToken({
  ...common,
  refreshToken: first.refreshToken,
});
assert.match(second.token, /^ghu_/);
assert.match(second.refreshToken, /^ghr_/);
assert.notEqual(second.token, first.token);
assert.notEqual(second.refreshToken, first.refreshToken);

await assert.rejects(
  refreshToken({ ...common, refreshToken: first.refreshToken }),
  (error) => {
    assert.equal(error.response.data.error, "bad_refresh_token");
    return true;
  },
);

console.log(JSON.stringify({ first, second }));
