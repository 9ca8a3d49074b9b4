// A real OpenID provider (the npm package oidc-provider) on a free loopback port, for the
// single sign-on tests in tests/platform/. Started by the `oidc_provider` fixture in
// tests/platform/conftest.py as `node oidc_provider.mjs CONFIG.json`; prints one line
// `READY <issuer>` when it listens, and stops on SIGTERM.
//
// CONFIG.json: {"clients": [oidc-provider client metadata ...], "accounts": {"<sub>": {...}}}
// An account: {"name", "email", "preferred_username", "groups": [...], "disabled": bool}.
//
// The tests steer it over plain HTTP on /test/... (loopback only, never in production):
//   PUT  /test/accounts/<sub>  body: an account        add or change a user (disabled: true
//                                                      = the IdP no longer lets the user in)
//   POST /test/clock           body: {"offset": s}     shift the provider's clock by s seconds
//   POST /test/substitute      body: {"client_id", "id_token"}
//                              the next token response to that client carries this ID token
//                              instead of its own (a token swapped in transit)
//   POST /test/tamper          body: {"client_id", "claims": {...}}
//                              the next token response to that client carries its ID token
//                              with these claims changed in the payload, signature untouched
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map(Object.entries(config.accounts ?? {}));
const pending = new Map(); // client_id -> function rewriting the token response body

// The provider's clock: oidc-provider reads Date.now() for iat/exp of everything it issues.
const realNow = Date.now;
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function control(req, res) {
  const body = await readJson(req);
  const path = new URL(req.url, 'http://x').pathname;
  if (req.method === 'PUT' && path.startsWith('/test/accounts/')) {
    const sub = decodeURIComponent(path.slice('/test/accounts/'.length));
    accounts.set(sub, { ...(accounts.get(sub) ?? {}), ...body });
  } else if (req.method === 'POST' && path === '/test/clock') {
    clockOffsetMs = Number(body.offset ?? 0) * 1000;
  } else if (req.method === 'POST' && path === '/test/substitute') {
    pending.set(body.client_id, (tokens) => ({ ...tokens, id_token: body.id_token }));
  } else if (req.method === 'POST' && path === '/test/tamper') {
    pending.set(body.client_id, (tokens) => {
      const [header, payload, signature] = tokens.id_token.split('.');
      const claims = { ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), ...body.claims };
      return { ...tokens, id_token: `${header}.${b64url(claims)}.${signature}` };
    });
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(204).end();
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys: [{ ...signingKey, kid: 'test-key', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: ['riskreg-test-cookie-key'] },
    claims: {
      // Entra ID sends the user's groups as a "groups" claim in the ID token, asked for
      // by no scope (the app registration's token configuration decides).
      openid: ['sub', 'groups'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
    },
    // The groups claim goes into the ID token itself, as Entra ID does, not only userinfo.
    conformIdTokenClaims: false,
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    // A first-party application: no consent screen (the login form is the only interaction).
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        return ctx.oidc.provider.Grant.find(grantId);
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid offline_access profile email');
      grant.addOIDCClaims(['name', 'preferred_username', 'email', 'groups']);
      await grant.save();
      return grant;
    },
    // Entra ID gives a refresh token whenever offline_access is asked for.
    async issueRefreshToken(ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account || account.disabled) {
        return undefined; // the IdP no longer lets this user in
      }
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            name: account.name,
            preferred_username: account.preferred_username,
            email: account.email,
            groups: account.groups ?? [],
          };
        },
      };
    },
    ttl: {
      AccessToken: 300,
      AuthorizationCode: 60,
      IdToken: 300,
      RefreshToken: 3600,
      Grant: 3600,
      Interaction: 300,
      Session: 3600,
    },
  });
  provider.proxy = false;
  // Rewrites the next token response for a client the tests named (see /test/substitute).
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.oidc?.client) {
      return;
    }
    const rewrite = pending.get(ctx.oidc.client.clientId);
    if (rewrite && ctx.body?.id_token) {
      pending.delete(ctx.oidc.client.clientId);
      ctx.body = rewrite(ctx.body);
    }
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/test/')) {
      control(req, res).catch((error) => {
        res.writeHead(400).end(String(error));
      });
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`READY ${issuer}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
