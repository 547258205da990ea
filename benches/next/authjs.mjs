// The Auth.js reference of the `auth()` benchmark (issue 16): a session read
// exactly as next-auth v5's `auth()` does it, on a valid JWE session cookie.
//
// next-auth 5.0.0-beta.32's `auth()` in a server component is
// `getSession(await headers(), config).then(parseSessionResponse)`, and
// getSession is @auth/core's `Auth()` on a GET of `<origin>/api/auth/session`
// carrying only the cookie header, with a `session` callback that puts the
// token in `session.user`. `sessionOf` below is that function without Next's
// `headers()` (next-auth needs Next's request context; @auth/core does not),
// so next-auth itself is not a dependency: @auth/core is. Each call decrypts
// the cookie (HKDF-derived A256CBC-HS512 key, JWE), runs the callbacks and
// re-encrypts it with a new expiry (Auth.js's rolling session), as a real
// `auth()` does.
import { Auth } from '@auth/core';
import { encode } from '@auth/core/jwt';

/** The cookie Auth.js uses for a session over plain HTTP. */
export const AUTHJS_COOKIE = 'authjs.session-token';

/**
 * An app's Auth.js configuration: one OIDC provider, JWT sessions (the default without an adapter).
 * @param {{ secret: string, issuer: string, clientId: string, clientSecret: string }} app
 */
export const authjsConfig = (app) => ({
  secret: app.secret,
  trustHost: true,
  basePath: '/api/auth',
  providers: [{ id: 'mesh', name: 'Mesh', type: /** @type {const} */ ('oidc'), issuer: app.issuer, clientId: app.clientId, clientSecret: app.clientSecret }],
  logger: { error() {}, warn() {}, debug() {} },
});

/**
 * A valid session cookie as Auth.js writes it after an OIDC sign-in: the default `jwt` callback's
 * `name`, `email`, `picture` and `sub`, plus `more` (say the tokens an app keeps to call an API).
 * @param {string} secret
 * @param {Record<string, unknown>} [more]
 */
export async function authjsCookie(secret, more = {}) {
  const token = { name: 'Demo User', email: 'demo@example.com', picture: null, sub: 'demo', ...more };
  return `${AUTHJS_COOKIE}=${await encode({ token, secret, salt: AUTHJS_COOKIE })}`;
}

/**
 * next-auth v5's `auth()` minus `headers()`: the session, or null.
 * @param {ReturnType<typeof authjsConfig>} config
 * @param {string} cookie the request's Cookie header
 * @param {string} [origin]
 */
export async function sessionOf(config, cookie, origin = 'http://localhost:3000') {
  const request = new Request(`${origin}/api/auth/session`, { headers: { cookie } });
  const response = await Auth(request, {
    ...config,
    callbacks: {
      // As next-auth's getSession: server-side, the token is the user.
      /** @param {any} args */
      async session(args) {
        const session = { ...args.session, expires: args.session.expires?.toISOString?.() ?? args.session.expires };
        return { user: args.user ?? args.token, ...session };
      },
    },
  });
  if (!response.ok) return null;
  return response.json();
}
