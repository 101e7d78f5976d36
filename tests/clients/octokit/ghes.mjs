// Drives the GitHub Enterprise Server endpoints around the token API with GitHub's own
// JavaScript client, configured for a GHES base URL as a user of one would. Run by
// tests/api/octokit.rs:
//
//   node ghes.mjs BASE_URL TOKEN LOGIN
//
// BASE_URL is the server's root (the client gets BASE_URL/api/v3, and octokit sends GraphQL to
// BASE_URL/api/graphql by itself); TOKEN a live token of LOGIN's with the `repo` and `read:org`
// scopes. Every step asserts on what the client returns; any failure exits non-zero. On
// success the last line of standard output is a JSON object of what was seen.

import assert from "node:assert/strict";

import { Octokit } from "@octokit/rest";

const [base, token, login] = process.argv.slice(2);
if (!login) {
  console.error("usage: node ghes.mjs BASE_URL TOKEN LOGIN");
  process.exit(2);
}

function step(name) {
  console.log(`- ${name}`);
}

const octokit = new Octokit({ auth: token, baseUrl: `${base}/api/v3` });
const anonymous = new Octokit({ baseUrl: `${base}/api/v3` });

step("meta.root: the URL templates, and the token's scopes in its headers");
const root = await octokit.rest.meta.root();
assert.equal(root.status, 200);
// The test's server has no --public-url, so its URLs are built on its root.
assert.equal(root.data.current_user_url, `${base}/user`);
assert.equal(root.data.rate_limit_url, `${base}/rate_limit`);
assert.equal(root.headers["x-oauth-scopes"], "repo, read:org");
assert.equal(root.headers["x-github-enterprise-version"], "3.19.0");

step("meta.get: the installed version");
const meta = await anonymous.rest.meta.get();
assert.equal(meta.data.installed_version, "3.19.0");
assert.equal(meta.data.verifiable_password_authentication, true);

step("rateLimit.get: the token's user's counts, not counting itself");
const before = await octokit.rest.rateLimit.get();
const after = await octokit.rest.rateLimit.get();
assert.equal(after.data.resources.core.used, before.data.resources.core.used);
assert.equal(after.data.resources.core.limit, 5000);
assert.deepEqual(after.data.rate, after.data.resources.core);

step("users.getByUsername: a public user; an unknown one is a 404");
const user = await anonymous.rest.users.getByUsername({ username: login });
assert.equal(user.data.login, login);
assert.equal(user.data.email, null);
await assert.rejects(anonymous.rest.users.getByUsername({ username: "nobody-here" }), (error) => {
  assert.equal(error.status, 404);
  return true;
});

step("meta.getZen: a sentence");
const zen = await anonymous.rest.meta.getZen();
assert.match(zen.data, /\.$/);

step("graphql: viewer and rateLimit, at /api/graphql");
const graphql = await octokit.graphql(
  `query { viewer { login databaseId organizations(first: 10) { nodes { login } } } rateLimit { limit remaining cost } }`,
);
assert.equal(graphql.viewer.login, login);
assert.equal(graphql.viewer.databaseId, user.data.id);
assert.equal(graphql.rateLimit.cost, 1);
assert.equal(graphql.rateLimit.limit, 5000);

step("graphql: an unknown field is a GraphqlResponseError with GitHub's errors");
await assert.rejects(octokit.graphql(`{ viewer { nope } }`), (error) => {
  assert.equal(error.name, "GraphqlResponseError");
  assert.equal(error.errors[0].extensions.code, "undefinedField");
  assert.equal(error.errors[0].message, "Field 'nope' doesn't exist on type 'User'");
  return true;
});

step("graphql: a variable, as octokit passes them");
const other = await octokit.graphql(`query($login: String!) { user(login: $login) { login } }`, {
  login,
});
assert.equal(other.user.login, login);

console.log(
  JSON.stringify({
    organizations: graphql.viewer.organizations.nodes.map((node) => node.login),
    remaining: graphql.rateLimit.remaining,
    core_used: after.data.resources.core.used,
  }),
);
