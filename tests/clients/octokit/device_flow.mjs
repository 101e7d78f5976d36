// The OAuth device flow with GitHub's own JavaScript clients, as a CLI's sign-in code runs it.
// Run by tests/api/device_flow.rs:
//
//   node device_flow.mjs API_BASE_URL CLIENT_ID
//
// API_BASE_URL is grantd's GHES-style `…/api/v3`: the clients find the OAuth endpoints at its
// root, as they do on GitHub Enterprise Server.
//
// 1. @octokit/oauth-methods: `createDeviceCode`, then `exchangeDeviceCode` twice at once:
//    authorization_pending, then slow_down with the interval raised to 10 s.
// 2. @octokit/auth-oauth-device: `createOAuthDeviceAuth` prints `VERIFY {verification JSON}` on
//    standard output from `onVerification` and polls every `interval` seconds; the Rust test
//    approves the code through grantd's pages meanwhile. Then `GET /user` through the auth
//    hook. The last line of standard output is `{ authentication, login }` as JSON.

import assert from "node:assert/strict";

import { createOAuthDeviceAuth } from "@octokit/auth-oauth-device";
import { createDeviceCode, exchangeDeviceCode } from "@octokit/oauth-methods";
import { request } from "@octokit/request";

const [baseUrl, clientId] = process.argv.slice(2);
if (!clientId) {
  console.error("usage: node device_flow.mjs API_BASE_URL CLIENT_ID");
  process.exit(2);
}
const api = request.defaults({ baseUrl });

// 1. The methods, one by one.
const { data: codes } = await createDeviceCode({
  clientType: "oauth-app",
  clientId,
  scopes: ["repo", "gist"],
  request: api,
});
assert.match(codes.device_code, /^[0-9a-f]{40}$/);
assert.match(codes.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
assert.equal(codes.verification_uri, `${baseUrl.replace("/api/v3", "")}/login/device`);
assert.equal(codes.expires_in, 900);
assert.equal(codes.interval, 5);

const exchange = () =>
  exchangeDeviceCode({ clientType: "oauth-app", clientId, code: codes.device_code, request: api });
await assert.rejects(exchange(), (error) => {
  assert.equal(error.response.data.error, "authorization_pending");
  return true;
});
await assert.rejects(exchange(), (error) => {
  assert.equal(error.response.data.error, "slow_down");
  assert.equal(error.response.data.interval, 10);
  return true;
});

// 2. The strategy a CLI uses: it waits `interval` seconds between polls. One scope: the
// strategy splits the answer's `scope` on spaces while GitHub joins scopes with commas, so with
// two its cache would never match and the hook would start the flow again.
const auth = createOAuthDeviceAuth({
  clientType: "oauth-app",
  clientId,
  scopes: ["repo"],
  request: api,
  onVerification(verification) {
    console.log(`VERIFY ${JSON.stringify(verification)}`);
  },
});
const authentication = await auth({ type: "oauth" });
assert.match(authentication.token, /^gho_/);

const { data: user } = await api.defaults({ request: { hook: auth.hook } })("GET /user");
console.log(JSON.stringify({ authentication, login: user.login }));
