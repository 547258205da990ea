// mesh-sdk/react in server rendering, as a Next.js client component's first
// render runs it: the package README's React example (the code block under
// "With React", as packed) is compiled and rendered with react-dom/server in
// Node. Importing the packages and building its module-scope client (with
// `storage: 'localStorage'`, which Node lacks) must not throw; the hooks
// render `loading`, and the process ends by itself (nothing left listening).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { transformSync } from 'esbuild';

import { freshProject, nodeJson } from './helpers.mjs';

const SSR = `
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { MeshClient } from 'mesh-sdk';
import { MeshProvider, useAccessToken, useDeviceLogin, useSession } from 'mesh-sdk/react';

const example = await import('./example.mjs');
const readme = renderToString(createElement(example.default));

const client = new MeshClient({ issuer: 'http://127.0.0.1:9', clientId: 'c', storage: 'sessionStorage' });
function Probe() {
  const session = useSession();
  const token = useAccessToken();
  const device = useDeviceLogin();
  return createElement('i', null, [session.status, token.status, String(token.token), device.status].join(' '));
}
const probe = renderToString(createElement(MeshProvider, { client }, createElement(Probe)));
const first = await client.getAccessToken().then(() => null, (e) => ({ code: e.code, message: e.message }));
console.log(JSON.stringify({ readme, probe, first, session: client.getSession() }));
`;

test('the README React example renders on a server without throwing', async (t) => {
  const dir = await freshProject(t, {
    files: { 'package.json': JSON.stringify({ name: 'react-ssr-probe', private: true, type: 'module' }), 'ssr.mjs': SSR },
    deps: ['react@19.3.1', 'react-dom@19.3.1'],
  });
  const readme = await readFile(join(dir, 'node_modules/mesh-sdk/README.md'), 'utf8');
  const block = readme.split('\n## With React\n')[1]?.match(/```jsx\n([\s\S]*?)```/)?.[1];
  assert.ok(block, 'the README has a React example');
  assert.match(block, /storage: 'localStorage'/, 'the example keeps the session in localStorage, which Node lacks');
  await writeFile(join(dir, 'example.mjs'), transformSync(block, { loader: 'jsx', jsx: 'automatic', format: 'esm' }).code);

  const out = await nodeJson(dir, 'ssr.mjs');
  assert.equal(out.readme, '<p>Loading…</p>');
  assert.equal(out.probe, '<i>loading loading null idle</i>');
  // The client built on the server holds no session; using it says why.
  assert.equal(out.session, null);
  assert.equal(out.first?.code, 'storage');
  assert.match(out.first.message, /sessionStorage/);
});

test('React is a peer dependency, not bundled', async () => {
  const pkg = JSON.parse(await readFile(new URL('../../pkg/package.json', import.meta.url), 'utf8'));
  assert.deepEqual(pkg.exports['./react'], { types: './react.d.ts', default: './react.js' });
  assert.equal(pkg.peerDependenciesMeta?.react?.optional, true);
  assert.equal(pkg.dependencies?.react, undefined);
  const source = await readFile(new URL('../../pkg/react.js', import.meta.url), 'utf8');
  assert.match(source, /from 'react'/);
});
