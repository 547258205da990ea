// The terminal CLI shipped in the package (pkg/bin/mesh-auth.js, mesh-env.js),
// run as child processes against the real provider; approvals go through the
// provider's pages while the CLI waits.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { approveDevice, jwtPayload, nowSeconds, startStack } from '../support/stack.mjs';
import { run } from '../support/cli.mjs';

const T = { timeout: 60_000 };

const mode = (p) => statSync(p).mode & 0o777;

describe('CLI: mesh-auth and mesh-env', () => {
  let stack;
  let home;
  let env;
  before(async () => {
    stack = await startStack({ accessTokenTtl: 120 });
    home = mkdtempSync(join(tmpdir(), 'mesh-cli-'));
    env = { HOME: home, MESH_ISSUER: stack.proxy.issuer, MESH_CLIENT_ID: 'mesh-demo', MESH_AUDIENCE: stack.op.audience, MESH_API_URL: stack.api.url };
  });
  after(async () => {
    await stack?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** mesh-auth with approval (or denial) on the provider's pages. */
  function login(args = [], { deny = false, extraEnv = {} } = {}) {
    let approval;
    return run('mesh-auth.js', args, {
      env: { ...env, ...extraEnv },
      onLine: (line) => {
        const m = /^\(or open (\S+)\)$/.exec(line);
        if (m) approval = approveDevice({ verificationUriComplete: m[1], deny });
      },
    }).then(async (r) => ({ ...r, approval: await approval }));
  }

  test('--help, unknown options and missing configuration', T, async () => {
    const help = await run('mesh-auth.js', ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: mesh-auth/);
    assert.match(help.stdout, /MESH_ISSUER/);
    const bogus = await run('mesh-auth.js', ['--bogus'], { env });
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /unknown option --bogus\n/, 'no guess when nothing is near');
    const typo = await run('mesh-auth.js', ['--isuer', 'http://127.0.0.1:1'], { env });
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown option --isuer; did you mean --issuer\?/);
    const envTypo = await run('mesh-env.js', ['--outptu', 'x'], { env });
    assert.equal(envTypo.code, 2);
    assert.match(envTypo.stderr, /unknown option --outptu; did you mean --output\?/);
    const noIssuer = await run('mesh-auth.js', [], { env: { HOME: home } });
    assert.equal(noIssuer.code, 2);
    assert.match(noIssuer.stderr, /MESH_ISSUER/);
    const badIssuer = await run('mesh-auth.js', ['--issuer', 'not a url', '--client-id', 'x'], { env: { HOME: home } });
    assert.equal(badIssuer.code, 2);
    assert.match(badIssuer.stderr, /issuer/);
    const envHelp = await run('mesh-env.js', ['-h']);
    assert.equal(envHelp.code, 0);
    assert.match(envHelp.stdout, /-o, --output FILE/);
  });

  test('mesh-env before any login: not signed in', T, async () => {
    const cwd = mkdtempSync(join(home, 'proj-'));
    const r = await run('mesh-env.js', [], { env, cwd });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not signed in/);
  });

  test('mesh-auth: prints the link and code, waits for approval, saves the session with mode 0600', T, async () => {
    const seen = stack.proxy.requests.length;
    const r = await login([], { extraEnv: { MESH_EXTENDED_TOKEN_PARAM: 'mesh_session=long' } });
    assert.equal(r.code, 0, r.stderr);
    // Headless, so a long-lived session: MESH_EXTENDED_TOKEN_PARAM reaches the provider on the device authorization request.
    const [started] = stack.proxy.requests.slice(seen).filter((x) => x.kind === 'device_authorization');
    assert.equal(started?.params?.mesh_session, 'long', JSON.stringify(started));
    assert.match(started.params.scope, /\boffline_access\b/);
    assert.equal(started.status, 200, 'the provider accepted it');
    assert.equal(r.approval?.outcome, 'approved');
    assert.match(r.stdout, /To sign in, open http:\/\/127\.0\.0\.1:\d+\/device/);
    assert.match(r.stdout, /enter the code: \S+/);
    assert.match(r.stdout, /Signed in as user-demo-1/);
    const file = join(home, '.mesh', 'token.json');
    assert.equal(mode(file), 0o600);
    assert.equal(mode(join(home, '.mesh')), 0o700);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(jwtPayload(saved.accessToken).sub, 'user-demo-1');
    assert.ok(saved.refreshToken);
    assert.ok(Math.abs(saved.expiresAt - (nowSeconds() + 120)) <= 5);
    assert.equal(saved.issuer, stack.proxy.issuer);
    // No token is printed.
    assert.ok(!r.stdout.includes(saved.accessToken) && !r.stdout.includes(saved.refreshToken));
  });

  test('mesh-env writes .env (0600) with the MESH_* variables and the expiry; refuses to overwrite without -f', T, async () => {
    const cwd = mkdtempSync(join(home, 'proj-'));
    const saved = JSON.parse(readFileSync(join(home, '.mesh', 'token.json'), 'utf8'));
    stack.proxy.reset();
    const r = await run('mesh-env.js', [], { env, cwd });
    assert.equal(r.code, 0, r.stderr);
    const dotenv = join(cwd, '.env');
    assert.equal(mode(dotenv), 0o600);
    const text = readFileSync(dotenv, 'utf8');
    const vars = Object.fromEntries(text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(vars.MESH_ACCESS_TOKEN, saved.accessToken);
    assert.equal(vars.MESH_REFRESH_TOKEN, saved.refreshToken);
    assert.equal(vars.MESH_TOKEN_EXPIRES_AT, String(saved.expiresAt));
    assert.match(text, /^# The access token expires at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/m);
    assert.equal(stack.proxy.count(), 0, 'a fresh session is not refreshed');

    writeFileSync(dotenv, 'KEEP=me\n');
    const again = await run('mesh-env.js', [], { env, cwd });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /refusing to overwrite/);
    assert.equal(readFileSync(dotenv, 'utf8'), 'KEEP=me\n', 'untouched');

    const forced = await run('mesh-env.js', ['-f', '-o', '.env'], { env, cwd });
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(readFileSync(dotenv, 'utf8'), /MESH_ACCESS_TOKEN=/);
    assert.equal(mode(dotenv), 0o600);

    const out = await run('mesh-env.js', ['-o', '-'], { env, cwd });
    assert.equal(out.code, 0);
    assert.match(out.stdout, /^MESH_TOKEN_EXPIRES_AT=\d+$/m);
  });

  test('mesh-env refreshes a session that is about to expire, and saves the rotated tokens', T, async () => {
    const cwd = mkdtempSync(join(home, 'proj-'));
    const file = join(home, '.mesh', 'token.json');
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...saved, expiresAt: nowSeconds() + 20 }), { mode: 0o600 });
    stack.proxy.reset();
    const r = await run('mesh-env.js', ['-o', 'my.env'], { env, cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(stack.proxy.count('refresh_token'), 1);
    assert.deepEqual(stack.proxy.refreshTokensSent, [saved.refreshToken]);
    const updated = JSON.parse(readFileSync(file, 'utf8'));
    assert.notEqual(updated.accessToken, saved.accessToken);
    assert.notEqual(updated.refreshToken, saved.refreshToken, 'the rotated refresh token is saved');
    assert.equal(mode(file), 0o600);
    const text = readFileSync(join(cwd, 'my.env'), 'utf8');
    assert.ok(text.includes(`MESH_ACCESS_TOKEN=${updated.accessToken}`));
    assert.ok(text.includes(`MESH_REFRESH_TOKEN=${updated.refreshToken}`));
    // The .env works with the SDK: fromEnv + an API call.
    const { MeshClient } = await import('../../pkg/node.js');
    const vars = Object.fromEntries(text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const client = MeshClient.fromEnv(vars, stack.clientOptions());
    try {
      const res = await client.fetch('/auth/validate');
      assert.equal(res.status, 200);
    } finally {
      client.dispose();
    }
  });

  test('a session whose refresh token was used elsewhere: mesh-env says to sign in again', T, async () => {
    const file = join(home, '.mesh', 'token.json');
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    // Spend the refresh token behind the CLI's back.
    const spent = await fetch(`${stack.op.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: 'mesh-demo', grant_type: 'refresh_token', refresh_token: saved.refreshToken }),
    });
    assert.equal(spent.status, 200);
    writeFileSync(file, JSON.stringify({ ...saved, expiresAt: nowSeconds() - 5 }), { mode: 0o600 });
    const cwd = mkdtempSync(join(home, 'proj-'));
    const r = await run('mesh-env.js', [], { env, cwd });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /mesh-auth/);
    assert.ok(!r.stderr.includes(saved.refreshToken));
  });

  test('MESH_TOKEN_FILE overrides the location', T, async () => {
    const custom = join(home, 'elsewhere', 'session.json');
    const r = await login([], { extraEnv: { MESH_TOKEN_FILE: custom } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(custom), 0o600);
    assert.match(r.stdout, new RegExp(`saved to ${custom.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  test('mesh-auth --logout revokes the refresh token and deletes the session file', T, async () => {
    const file = join(home, 'logout', 'token.json');
    const signedIn = await login([], { extraEnv: { MESH_TOKEN_FILE: file } });
    assert.equal(signedIn.code, 0, signedIn.stderr);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    stack.proxy.reset();
    const r = await run('mesh-auth.js', ['--logout'], { env: { ...env, MESH_TOKEN_FILE: file } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Signed out \(refresh token revoked\)/);
    assert.throws(() => statSync(file), /ENOENT/);
    const revocations = stack.proxy.requests.filter((x) => x.kind === 'revocation');
    assert.equal(revocations.length, 1);
    assert.equal(revocations[0].token, saved.refreshToken);
    const res = await fetch(`${stack.op.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: 'mesh-demo', grant_type: 'refresh_token', refresh_token: saved.refreshToken }),
    });
    assert.equal((await res.json()).error, 'invalid_grant', 'revoked at the provider');
    const again = await run('mesh-auth.js', ['--logout'], { env: { ...env, MESH_TOKEN_FILE: file } });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /Not signed in/);
  });

  test('mesh-auth: denied in the browser -> exit 1, nothing saved', T, async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'mesh-cli-deny-'));
    try {
      const r = await login([], { deny: true, extraEnv: { HOME: fresh } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /denied/);
      assert.throws(() => statSync(join(fresh, '.mesh', 'token.json')), /ENOENT/);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  test('mesh-auth: Ctrl-C while waiting -> exit 130', T, async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'mesh-cli-int-'));
    try {
      const r = await run('mesh-auth.js', [], {
        env: { ...env, HOME: fresh },
        onLine: (line, child) => { if (line.startsWith('Waiting for approval')) setTimeout(() => child.kill('SIGINT'), 300); },
      });
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /cancelled/);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
