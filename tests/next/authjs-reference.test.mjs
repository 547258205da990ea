// The Auth.js reference of benches/next/run.mjs reads what it claims to read:
// a valid Auth.js session cookie gives the user (the path the benchmark
// times), and a cookie Auth.js did not seal gives no session. Without this,
// a reference that silently read "signed out" would time the cheap path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTHJS_COOKIE, authjsConfig, authjsCookie, sessionOf } from '../../benches/next/authjs.mjs';

const SECRET = 'a-test-secret-of-enough-length-0123456789';
const config = authjsConfig({ secret: SECRET, issuer: 'http://127.0.0.1:9/', clientId: 'app', clientSecret: 'app-secret' });

test('a valid Auth.js session cookie reads as the signed-in user, with the tokens kept in it', async () => {
  const session = await sessionOf(config, await authjsCookie(SECRET, { access_token: 'a'.repeat(1200) }));
  assert.equal(session?.user?.name, 'Demo User');
  assert.equal(session.user.email, 'demo@example.com');
  assert.ok(Date.parse(session.expires) > Date.now(), 'a rolling expiry in the future');
});

test('a tampered, foreign or absent cookie reads as signed out', async () => {
  const valid = await authjsCookie(SECRET);
  const value = valid.slice(AUTHJS_COOKIE.length + 1);
  const tampered = `${AUTHJS_COOKIE}=${value.slice(0, -4)}${value.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  assert.equal(await sessionOf(config, tampered), null);
  assert.equal(await sessionOf(config, await authjsCookie('another-secret-of-enough-length-9876543210')), null);
  assert.equal(await sessionOf(config, ''), null);
});
