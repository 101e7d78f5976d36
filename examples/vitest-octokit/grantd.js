// The running grantd (global-setup.js) and its test controls (docs/testing.md).
import { inject } from "vitest";

export const { url, token } = inject("grantd");
// The GitHub Enterprise Server form octokit takes as its baseUrl.
export const apiUrl = `${url}/api/v3`;

export async function control(method, path, body) {
  const res = await fetch(`${url}/_grantd${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} /_grantd${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

export const advanceClock = (seconds) => control("POST", "/clock/advance", { seconds });

export const approveDevice = (userCode, login) =>
  control("POST", "/device/approve", { user_code: userCode, login });

// What a browser and `login` would do with the app's authorize URL: approve it and return the
// callback URL (with `code` and `state`) GitHub would redirect to.
export async function approveWebFlow(authorizeUrl, login) {
  const asked = new URL(authorizeUrl).searchParams;
  const body = { client_id: asked.get("client_id"), login };
  const scope = asked.get("scope");
  if (scope) body.scopes = scope.split(/[ ,]+/).filter(Boolean);
  for (const key of ["redirect_uri", "state", "code_challenge", "code_challenge_method"]) {
    if (asked.has(key)) body[key] = asked.get(key);
  }
  return (await control("POST", "/oauth/authorize", body)).redirect_url;
}

export const mint = (login, clientId, scopes = []) =>
  control("POST", "/tokens", { login, client_id: clientId, scopes });

export const requests = async () => (await control("GET", "/requests")).requests;

// Makes the requests `match` names ("api", "token", … or "GET /user") fail the way GitHub
// fails: `fault` is "status" (with `status`), "rate_limit", "latency", … with `count: N` for
// the next N only (docs/testing.md). A reset clears them.
export const addFault = (match, fault, fields = {}) =>
  control("POST", "/faults", { match, fault, ...fields });

export const clearFaults = () => control("DELETE", "/faults");
