// oidc-provider's token endpoint, the comparison of bench/token-endpoint (see bench/README.md).
//
//   node server.mjs --port 0 --count N --out DIR
//
// One confidential client (client_secret_post, like the GitHub clients that send client_id and
// client_secret in the form), the in-memory adapter, and before it listens: N authorization
// codes and N refresh tokens made through the provider's own models (each in a grant of its
// own, as N users would hold), written to DIR/codes.txt and DIR/refresh.txt. Then it prints
// "listening on 127.0.0.1:PORT" and serves until SIGTERM.
//
// The adapter is oidc-provider's MemoryAdapter with a larger LRU: its default one holds 1,000
// entries, so most prepared tokens would be evicted before the run. No `openid` scope: no ID
// token is signed, so an answer is what grantd answers, an opaque access token (and, for the
// refresh grant, a rotated refresh token: `rotateRefreshToken: true`, as GitHub rotates).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import Provider from 'oidc-provider';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const count = Number(args.count ?? 1000);
const out = args.out ?? '.';
const port = Number(args.port ?? 0);

// The package exports only its entry point: the adapter and the LRU are loaded by file.
const root = dirname(createRequire(import.meta.url).resolve('oidc-provider'));
const load = (path) => import(pathToFileURL(join(root, path)).href);
const { default: MemoryAdapter } = await load('adapters/memory_adapter.js');
const { default: LRU } = await load('helpers/lru.js');
const storage = new LRU({ maxSize: 10_000_000 });

const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-secret-not-secret-bench-secret-not';
const REDIRECT_URI = 'http://127.0.0.1/callback';

const provider = new Provider(`http://127.0.0.1:${port || 3000}`, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT_URI],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  adapter: (model) => new MemoryAdapter(model, storage),
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  rotateRefreshToken: true,
  pkce: { required: () => false },
  features: { devInteractions: { enabled: false } },
  ttl: { AccessToken: 28800, AuthorizationCode: 600, RefreshToken: 15897600, Grant: 15897600 },
});
provider.proxy = false;
// Failures are the bench's to see: each bad answer is counted by the load generator, and why
// it was refused goes to stderr (kept with BENCH_KEEP=1).
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.error_detail ?? err.message));
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const client = await provider.Client.find(CLIENT_ID);
const codes = [];
const refresh = [];
for (let i = 0; i < count; i += 1) {
  const accountId = `user${i}`;
  const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
  grant.addOIDCScope('offline_access');
  const grantId = await grant.save();
  codes.push(
    await new provider.AuthorizationCode({
      accountId,
      client,
      grantId,
      scope: '',
      redirectUri: REDIRECT_URI,
    }).save(),
  );
  refresh.push(
    await new provider.RefreshToken({
      accountId,
      client,
      grantId,
      scope: 'offline_access',
      gty: 'authorization_code',
    }).save(),
  );
}
writeFileSync(join(out, 'codes.txt'), `${codes.join('\n')}\n`);
writeFileSync(join(out, 'refresh.txt'), `${refresh.join('\n')}\n`);

const server = provider.listen(port, '127.0.0.1', () => {
  const { address, port: bound } = server.address();
  console.log(`listening on ${address}:${bound}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
