// Drives GitHub Enterprise Server's user administration with GitHub's own JavaScript client,
// configured for a GHES base URL. octokit's REST plugin carries no `enterpriseAdmin` methods
// (they are GHES-only), so the operations are called by their routes, as GHES users of
// @octokit/rest do. Run by tests/api/admin_users.rs:
//
//   node admin_users.mjs BASE_URL ADMIN_TOKEN NON_ADMIN_TOKEN
//
// ADMIN_TOKEN is a site admin's token with the `site_admin` scope; NON_ADMIN_TOKEN another
// user's, with the same scope. Every step asserts on what the client returns; any failure
// exits non-zero.

import assert from "node:assert/strict";

import { Octokit } from "@octokit/rest";

const [base, adminToken, nonAdminToken] = process.argv.slice(2);
if (!nonAdminToken) {
  console.error("usage: node admin_users.mjs BASE_URL ADMIN_TOKEN NON_ADMIN_TOKEN");
  process.exit(2);
}

function step(name) {
  console.log(`- ${name}`);
}

const baseUrl = `${base}/api/v3`;
const admin = new Octokit({ auth: adminToken, baseUrl });
const nonAdmin = new Octokit({ auth: nonAdminToken, baseUrl });

step("enterprise-admin/create-user: 201 with the simple user, login normalized");
const created = await admin.request("POST /admin/users", {
  login: "mona_lisa",
  email: "mona@example.com",
});
assert.equal(created.status, 201);
assert.equal(created.data.login, "mona-lisa");
assert.equal(created.data.type, "User");

step("enterprise-admin/create-user again: 422 already_exists");
await assert.rejects(
  admin.request("POST /admin/users", { login: "mona-lisa", email: "other@example.com" }),
  (error) => {
    assert.equal(error.status, 422);
    assert.equal(error.response.data.errors[0].code, "already_exists");
    return true;
  },
);

step("enterprise-admin/create-impersonation-o-auth-token: 201, then 200 for the same one");
const made = await admin.request("POST /admin/users/{username}/authorizations", {
  username: "mona-lisa",
  scopes: ["read:user"],
});
assert.equal(made.status, 201);
assert.match(made.data.token, /^ghp_/);
const again = await admin.request("POST /admin/users/{username}/authorizations", {
  username: "mona-lisa",
  scopes: ["read:user"],
});
assert.equal(again.status, 200);
assert.equal(again.data.id, made.data.id);

step("the impersonation token acts as the user");
const impersonating = new Octokit({ auth: made.data.token, baseUrl });
const me = await impersonating.rest.users.getAuthenticated();
assert.equal(me.data.login, "mona-lisa");

step("enterprise-admin/delete-impersonation-o-auth-token: 204; the token stops");
const deleted = await admin.request("DELETE /admin/users/{username}/authorizations", {
  username: "mona-lisa",
});
assert.equal(deleted.status, 204);
await assert.rejects(impersonating.rest.users.getAuthenticated(), (error) => {
  assert.equal(error.status, 401);
  return true;
});

step("a non-admin: 403");
await assert.rejects(
  nonAdmin.request("DELETE /admin/users/{username}", { username: "mona-lisa" }),
  (error) => {
    assert.equal(error.status, 403);
    assert.equal(error.response.data.message, "Must be a site administrator.");
    return true;
  },
);

step("enterprise-admin/delete-user: 204, then 404");
const gone = await admin.request("DELETE /admin/users/{username}", { username: "mona-lisa" });
assert.equal(gone.status, 204);
await assert.rejects(admin.request("DELETE /admin/users/{username}", { username: "mona-lisa" }), (error) => {
  assert.equal(error.status, 404);
  return true;
});
console.log(JSON.stringify({ ok: true }));
