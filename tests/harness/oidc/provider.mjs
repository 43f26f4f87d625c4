// A real OpenID Connect provider (panva's oidc-provider) for tests, on plain http over loopback.
//
//   node provider.mjs CONFIG      CONFIG: a path to a JSON file, or the JSON itself
//   OIDC_PROVIDER_CONFIG=CONFIG node provider.mjs
//
// Prints one line `ready <issuer>` on stdout once it listens (nothing else is ever written to
// stdout: the provider's own notices go to stderr), and exits by itself when its stdin closes (so
// it never outlives the process that started it) or on SIGTERM / SIGINT.
//
// Config (JSON):
//   issuer          "http://127.0.0.1:<port>"; default derived from the bound port
//   port            port to listen on, 127.0.0.1 only; 0 or absent: the port of `issuer`, else a
//                   free one chosen by the system (the issuer then names it)
//   clients         oidc-provider client metadata, plus our `roles`: a list of corridor roles put
//                   into the access tokens the client gets with client_credentials. A client whose
//                   grant_types are only ["client_credentials"] gets response_types [] and
//                   redirect_uris [] unless given.
//   accounts        { accountId: { email, name, roles, ...claims } }; the login name of the dev
//                   interactions is the account id (any password); an unknown one is refused (303
//                   back to the login page).
//   audience        resource indicator (e.g. "urn:corridor:fr"), the default resource of every
//                   request: access tokens are RS256 JWTs with this `aud`
//   audiences       optional list of further resource indicators a client may ask for
//   resourceScope   scopes of the resource server, space separated (default "corridor")
//   accessTokenTTL  seconds (default 300), for client credentials and authorization code tokens
//   jwks            optional { keys: [private JWKs] }; default: an RSA key generated at start
//   cookieKeys      optional list of cookie signing keys; default: random
//   pkceRequired    default true: every authorization code request must carry an S256 challenge

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

// stdout carries the `ready` line alone: oidc-provider writes its notices with console.info.
console.log = console.info = console.debug = (...args) => console.error(...args);

function fail(message) {
  console.error(`provider.mjs: ${message}`);
  process.exit(2);
}

function loadConfig() {
  const source = process.argv[2] ?? process.env.OIDC_PROVIDER_CONFIG;
  if (!source) fail('usage: node provider.mjs CONFIG (a JSON file or JSON text), or OIDC_PROVIDER_CONFIG');
  const text = source.trimStart().startsWith('{') ? source : readFileSync(source, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    return fail(`config is not JSON: ${err.message}`);
  }
}

function generatedJwks() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: `test-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' }] };
}

const config = loadConfig();
const accounts = config.accounts ?? {};
const ttl = Number(config.accessTokenTTL ?? 300);
const resourceScope = config.resourceScope ?? 'corridor';
const audiences = new Set([config.audience, ...(config.audiences ?? [])].filter(Boolean));

// Our `roles` is no client metadata oidc-provider knows: keep it aside.
const clientRoles = new Map();
const clients = (config.clients ?? []).map(({ roles, ...metadata }) => {
  if (roles !== undefined) clientRoles.set(metadata.client_id, roles);
  const grants = metadata.grant_types ?? ['authorization_code'];
  if (grants.length === 1 && grants[0] === 'client_credentials') {
    return { response_types: [], redirect_uris: [], ...metadata };
  }
  return metadata;
});

const exit = (code) => () => process.exit(code);
process.on('SIGTERM', exit(0));
process.on('SIGINT', exit(0));
process.on('SIGHUP', exit(0));
// Never outlive the parent: it holds our stdin open for as long as it wants us.
process.stdin.on('end', exit(0));
process.stdin.on('close', exit(0));
process.stdin.on('error', exit(0));
process.stdin.resume();

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));
server.on('error', (err) => fail(`cannot listen: ${err.message}`));

const requestedPort = Number(config.port || (config.issuer ? new URL(config.issuer).port : 0) || 0);
server.listen(requestedPort, '127.0.0.1', async () => {
  const { port } = server.address();
  const issuer = config.issuer ?? `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients,
    jwks: config.jwks ?? generatedJwks(),
    cookies: { keys: config.cookieKeys ?? [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub', 'roles'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'locale'],
    },
    // ID Tokens of the code flow carry the claims of the granted scopes (not only userinfo does).
    conformIdTokenClaims: false,
    async findAccount(_ctx, id) {
      const claims = Object.hasOwn(accounts, id) ? accounts[id] : undefined;
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ ...claims, sub: id }) };
    },
    async extraTokenClaims(_ctx, token) {
      let roles;
      if (token.kind === 'ClientCredentials') roles = clientRoles.get(token.clientId);
      else if (token.accountId && Object.hasOwn(accounts, token.accountId)) roles = accounts[token.accountId].roles;
      return roles === undefined ? undefined : { roles };
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? config.audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (!audiences.has(indicator)) throw new errors.InvalidTarget();
          return {
            scope: resourceScope,
            audience: indicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: { required: () => config.pkceRequired ?? true },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    clientBasedCORS: () => true,
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.proxy = false;

  // The dev interactions take any login name; one that is no account would fail later with a server
  // error. Refuse it here as a real login would: back to the login page (the harness reports it).
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path) && ctx.is('application/x-www-form-urlencoded')) {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      const raw = Buffer.concat(chunks).toString('utf8');
      const form = new URLSearchParams(raw);
      if (form.get('prompt') === 'login' && !Object.hasOwn(accounts, form.get('login') ?? '')) {
        console.error(`login refused: no account ${JSON.stringify(form.get('login'))}`);
        ctx.status = 303;
        ctx.redirect(ctx.path);
        return;
      }
      ctx.req.body = raw; // read by oidc-provider's body parser in place of the consumed stream
    }
    await next();
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));

  // oidc-provider checks static clients' metadata on first use: check it now, and fail to start.
  for (const { client_id: id } of clients) {
    try {
      await provider.Client.find(id);
    } catch (err) {
      fail(`client ${JSON.stringify(id)}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`);
    }
  }

  handler = provider.callback();
  process.stdout.write(`ready ${issuer}\n`);
});
