// An app's GitHub sign-in and token code, written with octokit, tested against grantd. The
// browser and the user are grantd's test controls; waiting is its clock (grantd.js).

import {
  checkToken,
  createDeviceCode,
  deleteToken,
  exchangeDeviceCode,
  exchangeWebFlowCode,
  getWebFlowAuthorizationUrl,
  refreshToken,
} from "@octokit/oauth-methods";
import { request } from "@octokit/request";
import { Octokit } from "@octokit/rest";
import { describe, expect, test } from "vitest";

import {
  addFault,
  advanceClock,
  apiUrl,
  approveDevice,
  approveWebFlow,
  clearFaults,
  control,
  mint,
  requests,
  url,
} from "../grantd.js";

// examples/test-seed.toml
const oauthApp = {
  clientType: "oauth-app",
  clientId: "0a1b2c3d4e5f6a7b8c9d",
  clientSecret: "1111111111111111111111111111111111111111",
};
const githubApp = {
  clientType: "github-app",
  clientId: "Iv1.a1b2c3d4e5f6a7b8",
  clientSecret: "2222222222222222222222222222222222222222",
};
const redirectUrl = "http://localhost:3000/callback";

// octokit finds the OAuth endpoints at the root of a GHES API base URL, as on GitHub.
const api = request.defaults({ baseUrl: apiUrl });

const loginOf = async (token) =>
  (await new Octokit({ auth: token, baseUrl: apiUrl }).rest.users.getAuthenticated()).data.login;

// The app's sign-in: the authorize URL it sends the browser to, then the code for a token.
async function signIn(app, login) {
  const { url: authorizeUrl } = getWebFlowAuthorizationUrl({
    ...app,
    ...(app.clientType === "oauth-app" ? { scopes: ["read:user"] } : {}),
    redirectUrl,
    state: "state-1",
    request: api,
  });
  expect(authorizeUrl.startsWith(`${url}/login/oauth/authorize?`)).toBe(true);
  const callback = new URL(await approveWebFlow(authorizeUrl, login));
  expect(callback.searchParams.get("state")).toBe("state-1");
  const { authentication } = await exchangeWebFlowCode({
    ...app,
    code: callback.searchParams.get("code"),
    redirectUrl,
    request: api,
  });
  return authentication;
}

describe("sign-in", () => {
  test("the web flow signs the user in", async () => {
    const authentication = await signIn(oauthApp, "octocat");
    expect(authentication.token).toMatch(/^gho_/);
    expect(authentication.scopes).toEqual(["read:user"]);
    expect(await loginOf(authentication.token)).toBe("octocat");
  });

  test("the device flow signs in once the user approves", async () => {
    const { data: codes } = await createDeviceCode({ ...oauthApp, scopes: ["repo"], request: api });
    const poll = () => exchangeDeviceCode({ ...oauthApp, code: codes.device_code, request: api });
    await expect(poll()).rejects.toMatchObject({
      response: { data: { error: "authorization_pending" } },
    });
    await approveDevice(codes.user_code, "octocat");
    // A CLI waits `interval` seconds between polls: the clock moves instead.
    await advanceClock(codes.interval);
    const { authentication } = await poll();
    expect(await loginOf(authentication.token)).toBe("octocat");
  });

  test("expiring tokens refresh, then expire by the clock", async () => {
    const first = await signIn(githubApp, "octocat");
    expect(first.token).toMatch(/^ghu_/);
    expect(first.refreshToken).toMatch(/^ghr_/);
    const { authentication: second } = await refreshToken({
      ...githubApp,
      refreshToken: first.refreshToken,
      request: api,
    });
    expect(await loginOf(second.token)).toBe("octocat");

    await advanceClock(8 * 3600 + 1);
    await expect(loginOf(second.token)).rejects.toMatchObject({ status: 401 });
    // The refresh token lives six months: the app refreshes and carries on.
    const { authentication: third } = await refreshToken({
      ...githubApp,
      refreshToken: second.refreshToken,
      request: api,
    });
    expect(await loginOf(third.token)).toBe("octocat");
  });

  test("the app checks and revokes tokens", async () => {
    const { access_token: token } = await mint("octocat", oauthApp.clientId, ["repo"]);
    const { data } = await checkToken({ ...oauthApp, token, request: api });
    expect(data.user.login).toBe("octocat");
    await deleteToken({ ...oauthApp, token, request: api });
    await expect(checkToken({ ...oauthApp, token, request: api })).rejects.toMatchObject({
      status: 404,
    });
    // The journal records what the app sent (routes and statuses, never the token).
    const sent = (await requests())
      .filter((r) => r.route === "/api/v3/applications/{client_id}/token")
      .map((r) => [r.method, r.status]);
    expect(sent).toEqual([
      ["POST", 200],
      ["DELETE", 204],
      ["POST", 404],
    ]);
    expect(JSON.stringify(await requests())).not.toContain(token);
  });
});

describe("GitHub failing", () => {
  test("a 503 on the code exchange reaches the app, and a retry signs in", async () => {
    const { url: authorizeUrl } = getWebFlowAuthorizationUrl({
      ...oauthApp,
      redirectUrl,
      request: api,
    });
    const callback = new URL(await approveWebFlow(authorizeUrl, "octocat"));
    const exchange = () =>
      exchangeWebFlowCode({
        ...oauthApp,
        code: callback.searchParams.get("code"),
        redirectUrl,
        request: api,
      });
    // GitHub's load balancer has no server for the next code exchange (one request only).
    await addFault("token", "status", { status: 503, count: 1 });
    await expect(exchange()).rejects.toMatchObject({
      name: "HttpError",
      status: 503,
      response: { data: { message: expect.stringMatching(/^No server is currently available/) } },
    });
    // The failed request never reached the exchange: the same code still works.
    const { authentication } = await exchange();
    expect(await loginOf(authentication.token)).toBe("octocat");
  });

  test("a rate-limited API is octokit's 403 until the test clears it", async () => {
    const { access_token: token } = await mint("octocat", oauthApp.clientId);
    await addFault("api", "rate_limit");
    await expect(loginOf(token)).rejects.toMatchObject({
      status: 403,
      response: { headers: { "x-ratelimit-remaining": "0" } },
    });
    await clearFaults();
    expect(await loginOf(token)).toBe("octocat");
  });
});

describe("per-test reset", () => {
  const leftBehind = {};

  test("a test leaves a token and moves the clock", async () => {
    leftBehind.token = (await mint("octocat", oauthApp.clientId)).access_token;
    await advanceClock(3600);
  });

  test("the next test starts from the seed", async () => {
    await expect(loginOf(leftBehind.token)).rejects.toMatchObject({ status: 401 });
    expect(Math.abs((await control("GET", "/clock")).offset_seconds)).toBeLessThanOrEqual(1);
  });
});
