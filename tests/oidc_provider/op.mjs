// A real OpenID provider for the end-to-end tests: npm `oidc-provider`.
//
//   node op.mjs config.json
//
// config.json: {"issuer", "port", "clients": [...], "jwks": {"keys": [...]}}
// (private JWKs); a client may register a backchannel_logout_uri.
// Accounts exist for any login name: `sub` is the name,
// the email is `<name>@example.com` (verified). PKCE S256 is required.
// Prints "listening" once it accepts connections.
import fs from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  pkce: { required: () => true },
  // Logout tokens go to the app on 127.0.0.1, which oidc-provider's own
  // guard against requests to special-use addresses would refuse.
  fetch: (url, { dispatcher, ...options }) => fetch(url, options),
  conformIdTokenClaims: config.conformIdTokenClaims ?? true,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  features: {
    devInteractions: { enabled: true },
    // Clients registering backchannel_logout_uri get logout tokens when
    // the session ends at /session/end (RP-initiated logout).
    backchannelLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.com`,
          email_verified: true,
          name: id,
        };
      },
    };
  },
});

http.createServer(provider.callback()).listen(config.port, '127.0.0.1', () => {
  console.log('listening');
});
