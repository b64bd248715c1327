// The peer for scripts/bench.sh: oidc-provider 8.8.1 configured as Tessera is
// for the benchmark — client_credentials with RS256 JWT access tokens
// (resource indicators, accessTokenFormat 'jwt') for an equivalent client,
// plus opaque tokens for the introspection comparison; and a public app
// (PKCE) for the code flow and refresh rotation, as Tessera's bench app:
// RS256 JWT access token and ID token per exchange, a refresh token that
// rotates on every use. Its login and consent are answered at once for the
// account `bench` (the bench signs in once per worker, then reuses the
// session, as benches/flows.rs does with Tessera).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 3000);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'peer-rs256', use: 'sig', alg: 'RS256' };

const JWT_API = 'https://api.example.com';
const OPAQUE_API = 'https://opaque.example.com';

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench', client_secret: process.env.PEER_SECRET || 'bench-secret-bench-secret-bench-secret-00',
      grant_types: ['client_credentials'], redirect_uris: [], response_types: [],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'read:data',
    },
    {
      client_id: 'app', token_endpoint_auth_method: 'none', application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'], scope: 'openid read:data',
    },
  ],
  // as Tessera: a refresh token whenever the app may refresh, rotated on every use
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  cookies: { keys: ['bench-cookie-key-bench-cookie-key-0'] },
  jwks: { keys: [jwk] },
  scopes: ['read:data'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => JWT_API,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => ({
        scope: 'read:data',
        audience: resource,
        accessTokenTTL: 900,
        accessTokenFormat: resource === OPAQUE_API ? 'opaque' : 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
// Login and consent, answered at once: the account `bench` grants what is asked.
provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/interaction/')) return next();
  const { params, grantId } = await provider.interactionDetails(ctx.req, ctx.res);
  const grant = (grantId && await provider.Grant.find(grantId))
    || new provider.Grant({ accountId: 'bench', clientId: params.client_id });
  grant.addOIDCScope('openid read:data');
  grant.addResourceScope(JWT_API, 'read:data');
  const result = { login: { accountId: 'bench' }, consent: { grantId: await grant.save() } };
  ctx.status = 303;
  ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`peer listening on ${issuer}`));
