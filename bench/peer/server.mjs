// The peer for scripts/bench.sh: oidc-provider 8.8.1 configured as Tessera is
// for the benchmark — client_credentials with RS256 JWT access tokens
// (resource indicators, accessTokenFormat 'jwt') for an equivalent client,
// plus opaque tokens for the introspection comparison.
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
  ],
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
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`peer listening on ${issuer}`));
