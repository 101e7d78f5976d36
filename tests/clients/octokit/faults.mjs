// What GitHub's JavaScript client reports when grantd's test controls make a request fail.
// Run by tests/api/faults.rs:
//
//   node faults.mjs BASE_URL AUTHORIZATION TIMES
//
// Calls `GET /user` (octokit.rest.users.getAuthenticated) TIMES times with the
// `Authorization` header AUTHORIZATION (a token or Basic credentials), one after another, and
// prints as its last line a JSON array with, for each call, either the user's login or what
// octokit's RequestError carried: status, message, the response's data and the headers a
// client's error handling reads. No retry or throttling plugin is loaded: each fault must
// reach the caller as GitHub's own error would.

import { Octokit } from "@octokit/rest";

const [baseUrl, authorization, times] = process.argv.slice(2);
if (!times) {
  console.error("usage: node faults.mjs BASE_URL AUTHORIZATION TIMES");
  process.exit(2);
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const octokit = new Octokit({ baseUrl, log: quiet });
// The header as given, whatever its scheme (octokit's `auth` option makes tokens only).
octokit.hook.before("request", (options) => {
  options.headers.authorization = authorization;
});

const HEADERS = [
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "x-ratelimit-reset",
  "x-ratelimit-resource",
  "retry-after",
  "x-github-otp",
  "x-github-request-id",
];

const results = [];
for (let i = 0; i < Number(times); i += 1) {
  try {
    const { data } = await octokit.rest.users.getAuthenticated();
    results.push({ login: data.login });
  } catch (error) {
    if (error.name !== "HttpError") {
      throw error;
    }
    const headers = {};
    for (const name of HEADERS) {
      if (error.response?.headers?.[name] !== undefined) {
        headers[name] = String(error.response.headers[name]);
      }
    }
    results.push({
      status: error.status,
      message: error.message,
      data: error.response?.data ?? null,
      headers,
    });
  }
}
console.log(JSON.stringify(results));
