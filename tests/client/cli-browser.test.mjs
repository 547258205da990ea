// mesh-auth's browser login (RFC 8252 §7.3, issue #16 item 5) against the
// real oidc-provider, with the test playing the browser: it reads the URL
// mesh-auth prints, signs in and consents on the provider's pages over HTTP,
// and follows the redirect to mesh-auth's loopback listener. The choice of
// flow is host-tested in src/client/terminal_tests.rs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FormBrowser, parseForms, textOf } from '../support/approve.mjs';
import { run } from '../support/cli.mjs';
import { approveDevice, startStack } from '../support/stack.mjs';

const T = { timeout: 60_000 };
const AUTHORIZE_LINE = /^(https?:\/\/\S+\?\S*response_type=code\S*)$/;

/** Connecting to `url` fails (nothing listens there). */
async function refused(url) {
  await assert.rejects(fetch(url, { signal: AbortSignal.timeout(5000) }), (e) => {
    assert.match(String(e.cause?.code ?? e.cause?.message ?? e.message), /ECONNREFUSED|EADDRNOTAVAIL|ENETUNREACH|EHOSTUNREACH/, String(e.cause ?? e));
    return true;
  });
}

describe('CLI: mesh-auth signs in with the browser', () => {
  let stack;
  let home;
  let env;
  before(async () => {
    stack = await startStack({ accessTokenTtl: 120 });
    home = mkdtempSync(join(tmpdir(), 'mesh-cli-browser-'));
    // The browser talks to the provider itself, not through the test's fault proxy.
    env = { HOME: home, MESH_ISSUER: stack.op.issuer, MESH_CLIENT_ID: 'mesh-demo', MESH_AUDIENCE: stack.op.audience };
  });
  after(async () => {
    await stack?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('--browser: PKCE and a loopback redirect; the test signs in at the provider and the session is saved', T, async () => {
    const file = join(home, 'browser.json');
    let played;
    const r = await run('mesh-auth.js', ['--browser', '--no-open', '--token-file', file], {
      env: { ...env, MESH_EXTENDED_TOKEN_LIFETIME: 'true', MESH_EXTENDED_TOKEN_PARAM: 'mesh_session=long' },
      onLine: (line) => {
        const m = AUTHORIZE_LINE.exec(line);
        if (!m) return;
        played = (async () => {
          const url = new URL(m[1]);
          const b = new FormBrowser();
          let page = await b.get(url.href);
          page = await b.submit(page, { action: '/login', fields: { login: 'demo', password: 'demo' } });
          if (parseForms(page.html).some((f) => (f.attrs.action ?? '').endsWith('/confirm'))) page = await b.submit(page, { action: '/confirm' });
          return { url, page };
        })();
      },
    });
    assert.ok(played, `no authorization URL printed: ${r.stdout} ${r.stderr}`);
    const { url, page } = await played;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Signing in with the browser \(--browser was given\), asking for a long-lived session/);
    const q = url.searchParams;
    const redirect = new URL(q.get('redirect_uri'));
    assert.equal(redirect.hostname, '127.0.0.1');
    assert.equal(redirect.pathname, '/callback');
    assert.ok(Number(redirect.port) > 0);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.ok(q.get('state') && q.get('nonce') && q.get('code_challenge'));
    assert.deepEqual(q.get('scope').split(' ').sort(), ['offline_access', 'openid']);
    assert.equal(q.get('mesh_session'), 'long', 'MESH_EXTENDED_TOKEN_PARAM goes on the authorization request');
    assert.equal(q.get('prompt'), 'consent', 'offline_access in the code flow needs consent (OIDC Core 11)');
    // The browser ended on mesh-auth's listener, which said so.
    assert.ok(page.url.startsWith(`${redirect.origin}/callback?`), page.url);
    assert.equal(page.status, 200);
    assert.match(textOf(page.html), /Signed in/);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(saved.accessToken && saved.refreshToken, 'a long-lived session has a refresh token');
    assert.match(r.stdout, /Signed in as user-demo-1/);
    await refused(redirect.href);
  });

  test('attacks: a callback with a wrong state is refused, the listener is on 127.0.0.1 only, the timeout exits 1 and frees the port', T, async () => {
    const file = join(home, 'refused.json');
    let probed;
    const r = await run('mesh-auth.js', ['--browser', '--no-open', '--login-timeout', '4', '--token-file', file], {
      env,
      onLine: (line) => {
        const m = AUTHORIZE_LINE.exec(line);
        if (!m) return;
        probed = (async () => {
          const q = new URL(m[1]).searchParams;
          const redirect = new URL(q.get('redirect_uri'));
          const iss = encodeURIComponent(stack.op.issuer);
          const forged = await fetch(`${redirect.href}?code=stolen&state=not-${q.get('state')}&iss=${iss}`);
          const other = await fetch(`${redirect.origin}/elsewhere`);
          // Bound to 127.0.0.1: another loopback address of the same machine finds nothing.
          await refused(`http://127.0.0.2:${redirect.port}/callback`);
          await refused(`http://[::1]:${redirect.port}/callback`);
          return { redirect, forged: { status: forged.status, text: textOf(await forged.text()) }, other: other.status };
        })();
      },
    });
    assert.ok(probed, `no authorization URL printed: ${r.stdout} ${r.stderr}`);
    const { redirect, forged, other } = await probed;
    assert.equal(forged.status, 400);
    assert.match(forged.text, /Sign-in failed/);
    assert.equal(other, 404);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no answer from the browser within 4 s; run mesh-auth again, or mesh-auth --device \(timeout\)/);
    assert.ok(!existsSync(file), 'nothing saved');
    await refused(redirect.href);
  });

  test('MESH_HEADLESS=true takes the device code, even with a display', T, async () => {
    const file = join(home, 'headless.json');
    let approval;
    const r = await run('mesh-auth.js', ['--token-file', file], {
      env: { ...env, DISPLAY: ':0', MESH_HEADLESS: 'true' },
      onLine: (line) => {
        const m = /^\(or open (\S+)\)$/.exec(line);
        if (m) approval = approveDevice({ verificationUriComplete: m[1] });
      },
    });
    await approval;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Signing in with the device code \(MESH_HEADLESS is true\), asking for a long-lived session/);
    assert.ok(JSON.parse(readFileSync(file, 'utf8')).refreshToken);
  });

  test('--browser with --device, or a bad MESH_HEADLESS: usage error, exit 2', T, async () => {
    const both = await run('mesh-auth.js', ['--browser', '--device'], { env });
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--device exclude each other/);
    const bad = await run('mesh-auth.js', [], { env: { ...env, MESH_HEADLESS: 'perhaps' } });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /MESH_HEADLESS/);
  });
});
