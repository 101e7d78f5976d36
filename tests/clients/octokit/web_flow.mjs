// The OAuth web flow's code exchange with GitHub's own JavaScript client, as an OAuth app's
// sign-in code runs it. Run by tests/api/web_flow.rs:
//
//   node web_flow.mjs BASE_URL CLIENT_ID CLIENT_SECRET CODE REDIRECT_URL
//
// Exchanges CODE with `exchangeWebFlowCode`, then asserts that a second exchange of the same
// code is refused with bad_verification_code. The last line of standard output is the
// `authentication` object as JSON, for the Rust test to verify over HTTP.

import assert from "node:assert/strict";

import { exchangeWebFlowCode } from "@octokit/oauth-methods";
import { request } from "@octokit/request";

const [baseUrl, clientId, clientSecret, code, redirectUrl] = process.argv.slice(2);
if (!redirectUrl) {
  console.error("usage: node web_flow.mjs BASE_URL CLIENT_ID CLIENT_SECRET CODE REDIRECT_URL");
  process.exit(2);
}

const options = {
  clientType: "oauth-app",
  clientId,
  clientSecret,
  code,
  redirectUrl,
  request: request.defaults({ baseUrl }),
};

const { authentication } = await exchangeWebFlowCode(options);
assert.match(authentication.token, /^gho_/);

await assert.rejects(exchangeWebFlowCode(options), (error) => {
  assert.equal(error.response.data.error, "bad_verification_code");
  return true;
});

console.log(JSON.stringify(authentication));
