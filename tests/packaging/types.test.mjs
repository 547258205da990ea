// tsc --noEmit over a typed usage file, against the packed package's
// hand-written types, with both module resolutions users pick.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import ts from 'typescript';

import { bin, freshProject, repo } from './helpers.mjs';

const run = promisify(execFile);

const tsconfig = (moduleResolution, module, file = 'usage.ts', customConditions = undefined) => JSON.stringify({
  compilerOptions: {
    customConditions,
    strict: true,
    noEmit: true,
    target: 'ES2022',
    module,
    moduleResolution,
    lib: ['ES2022', 'DOM'],
    types: ['node'],
    typeRoots: [join(repo, 'node_modules/@types')],
    noUnusedLocals: false,
    skipLibCheck: false,
  },
  files: [file],
});

async function tsc(dir, project) {
  try {
    await run(bin('tsc'), ['-p', project], { cwd: dir, timeout: 120_000 });
    return '';
  } catch (e) {
    return `${e.stdout}${e.stderr}` || e.message;
  }
}

test('the hand-written types check a typed usage file', async (t) => {
  const dir = await freshProject(t, {
    files: {
      'tsconfig.nodenext.json': tsconfig('nodenext', 'nodenext'),
      'tsconfig.bundler.json': tsconfig('bundler', 'esnext'),
      'tsconfig.browser.json': tsconfig('bundler', 'esnext', 'browser-usage.ts', ['browser']),
      'tsconfig.browser-as-node.json': tsconfig('bundler', 'esnext', 'browser-usage.ts'),
      'tsconfig.react.nodenext.json': tsconfig('nodenext', 'nodenext', 'react-usage.ts'),
      'tsconfig.react.bundler.json': tsconfig('bundler', 'esnext', 'react-usage.ts', ['browser']),
      'tsconfig.next.nodenext.json': tsconfig('nodenext', 'nodenext', 'next-usage.ts'),
      'tsconfig.next.bundler.json': tsconfig('bundler', 'esnext', 'next-usage.ts'),
      'package.json': JSON.stringify({ name: 'types-probe', private: true, type: 'module' }),
    },
    // mesh-sdk/react's types import React's (an optional peer dependency).
    deps: ['react@19.3.1', '@types/react@19.3.0'],
  });
  await copyFile(join(repo, 'tests/packaging/types/usage.ts'), join(dir, 'usage.ts'));
  await copyFile(join(repo, 'tests/packaging/types/browser-usage.ts'), join(dir, 'browser-usage.ts'));
  await copyFile(join(repo, 'tests/packaging/types/react-usage.ts'), join(dir, 'react-usage.ts'));
  await copyFile(join(repo, 'tests/packaging/types/next-usage.ts'), join(dir, 'next-usage.ts'));

  await t.test('moduleResolution nodenext', async () => {
    assert.equal(await tsc(dir, 'tsconfig.nodenext.json'), '');
  });
  await t.test('moduleResolution bundler', async () => {
    assert.equal(await tsc(dir, 'tsconfig.bundler.json'), '');
  });
  await t.test('the browser condition gets the types without the gateway', async () => {
    assert.equal(await tsc(dir, 'tsconfig.browser.json'), '');
    // Without the condition the full types apply, so the @ts-expect-error is unused.
    assert.match(await tsc(dir, 'tsconfig.browser-as-node.json'), /error TS2578/);
  });
  await t.test('mesh-sdk/react types check a typed usage file', async () => {
    assert.equal(await tsc(dir, 'tsconfig.react.nodenext.json'), '');
    assert.equal(await tsc(dir, 'tsconfig.react.bundler.json'), '');
  });
  await t.test('mesh-sdk/react types declare exactly what it exports', async () => {
    const pkgDir = join(dir, 'node_modules/mesh-sdk');
    const program = ts.createProgram([join(pkgDir, 'react.d.ts')], { strict: true, noEmit: true, types: [] });
    const checker = program.getTypeChecker();
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(join(pkgDir, 'react.d.ts')));
    const declared = checker.getExportsOfModule(moduleSymbol).filter((s) => s.flags & ts.SymbolFlags.Function).map((s) => s.name).sort();
    const runtime = await import(pathToFileURL(join(pkgDir, 'react.js')).href);
    assert.deepEqual(declared, Object.keys(runtime).sort());
  });
  await t.test('mesh-sdk/next types check a typed usage file and declare what it exports', async () => {
    assert.equal(await tsc(dir, 'tsconfig.next.nodenext.json'), '');
    assert.equal(await tsc(dir, 'tsconfig.next.bundler.json'), '');
    const pkgDir = join(dir, 'node_modules/mesh-sdk');
    const program = ts.createProgram([join(pkgDir, 'next.d.ts')], { strict: true, noEmit: true, types: [] });
    const checker = program.getTypeChecker();
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(join(pkgDir, 'next.d.ts')));
    const declared = checker.getExportsOfModule(moduleSymbol).filter((s) => s.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class | ts.SymbolFlags.Alias) && !(s.flags & ts.SymbolFlags.Type && !(s.flags & ts.SymbolFlags.Value))).map((s) => s.name).sort();
    const runtime = await import(pathToFileURL(join(pkgDir, 'next.js')).href);
    assert.deepEqual(declared, Object.keys(runtime).sort());
    const mesh = runtime.createMeshAuth({ issuer: 'http://127.0.0.1:9', clientId: 'c', baseUrl: 'http://localhost:3000', secret: 'k3Jx9Qw2LmZ8vB4nR7tY1uE5oP0aS6dF' });
    const members = checker.getDeclaredTypeOfSymbol(checker.getExportsOfModule(moduleSymbol).find((s) => s.name === 'MeshAuth')).getProperties().map((p) => p.name);
    assert.deepEqual(members.sort(), Object.keys(mesh).sort());
    await mesh.close();
  });
  await t.test('the types declare exactly what the runtime exports', async () => {
    // Drift check: an export or method added to (or removed from) the wasm
    // binding without the hand-written types fails here.
    const pkgDir = join(dir, 'node_modules/mesh-sdk');
    const program = ts.createProgram([join(pkgDir, 'index.d.ts')], { strict: true, noEmit: true, types: [] });
    const checker = program.getTypeChecker();
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(join(pkgDir, 'index.d.ts')));
    const exported = new Map(checker.getExportsOfModule(moduleSymbol).map((s) => [s.name, s]));
    const declaredValues = [...exported.values()]
      .filter((s) => s.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class))
      .map((s) => s.name)
      .sort();
    const publicNames = (names) => names.filter((n) => !n.startsWith('__') && !['constructor', 'length', 'name', 'prototype'].includes(n)).sort();

    const runtime = await import(pathToFileURL(join(pkgDir, 'node.js')).href);
    assert.deepEqual(declaredValues, Object.keys(runtime).sort());

    const cls = exported.get('MeshClient');
    const instanceMembers = checker.getDeclaredTypeOfSymbol(cls).getProperties().map((p) => p.name);
    const staticMembers = checker.getTypeOfSymbol(cls).getProperties().map((p) => p.name);
    assert.deepEqual(publicNames(instanceMembers), publicNames(Object.getOwnPropertyNames(runtime.MeshClient.prototype)));
    assert.deepEqual(publicNames(staticMembers), publicNames(Object.getOwnPropertyNames(runtime.MeshClient)));
    // The JavaScript layer's view of the wasm core (steps.d.ts) against the core's exports.
    const steps = ts.createProgram([join(pkgDir, 'steps.d.ts')], { strict: true, noEmit: true, allowJs: true, types: [] });
    const stepsModule = steps.getTypeChecker().getSymbolAtLocation(steps.getSourceFile(join(pkgDir, 'steps.d.ts')));
    const stepTypes = steps.getTypeChecker().getExportsOfModule(stepsModule);
    const membersOf = (name) => steps.getTypeChecker().getDeclaredTypeOfSymbol(stepTypes.find((s) => s.name === name)).getProperties().map((p) => p.name);
    const glue = await import(pathToFileURL(join(pkgDir, 'wasm/client/mesh_sdk_client.js')).href);
    assert.deepEqual(publicNames(membersOf('ClientCore')), publicNames(Object.getOwnPropertyNames(glue.ClientCore.prototype)));
    // The server build's ClientCore has mesh-sdk/next's methods too.
    const server = await import(pathToFileURL(join(pkgDir, 'wasm/server/mesh_sdk_server.js')).href);
    assert.deepEqual(publicNames(membersOf('ServerClientCore')), publicNames(Object.getOwnPropertyNames(server.ClientCore.prototype)));
    // The redirect login's rules: the browser's module of their own, and the server build's.
    const redirect = await import(pathToFileURL(join(pkgDir, 'wasm/redirect/mesh_sdk_redirect.js')).href);
    assert.deepEqual(publicNames(membersOf('RedirectCore')), publicNames(Object.getOwnPropertyNames(redirect.RedirectCore.prototype)).filter((n) => n !== 'free'));
    assert.deepEqual(publicNames(membersOf('RedirectCore')), publicNames(Object.getOwnPropertyNames(server.RedirectCore.prototype)).filter((n) => n !== 'free'));
    assert.deepEqual(publicNames(membersOf('ServerRules')), publicNames(Object.getOwnPropertyNames(server.ServerRules.prototype)).filter((n) => n !== 'free'));
    // The gateway entries' types against their modules: the Durable Object
    // classes and their methods in mesh-sdk/gateway/durable only.
    // The entries import .wasm (workerd only), so their export lists are read
    // from their text; the classes' methods from the module's glue.
    for (const [types, source, wasmGlue] of [
      ['gateway.d.ts', 'gateway.js', 'wasm/gateway/mesh_sdk_gateway.js'],
      ['gateway-durable.d.ts', 'gateway-durable.js', 'wasm/gateway-durable/mesh_sdk_gateway_durable.js'],
    ]) {
      const entry = ts.createProgram([join(pkgDir, types)], { strict: true, noEmit: true, types: [] });
      const entryChecker = entry.getTypeChecker();
      // Re-exports (`export { x } from './index.js'`) are aliases: check what they name.
      const entrySymbols = entryChecker.getExportsOfModule(entryChecker.getSymbolAtLocation(entry.getSourceFile(join(pkgDir, types))))
        .map((s) => (s.flags & ts.SymbolFlags.Alias ? Object.assign(entryChecker.getAliasedSymbol(s), { exportName: s.name }) : s));
      const exportedNames = [...(await readFile(join(pkgDir, source), 'utf8')).matchAll(/^export \{([^}]*)\}/gm)]
        .flatMap((m) => m[1].split(',').map((n) => n.trim()));
      const values = entrySymbols.filter((s) => s.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class)).map((s) => s.exportName ?? s.name);
      assert.deepEqual(values.sort(), exportedNames.sort(), `${types} against ${source}`);
      const moduleExports = await import(pathToFileURL(join(pkgDir, wasmGlue)).href);
      const classes = entrySymbols.filter((s) => s.flags & ts.SymbolFlags.Class && s.name in moduleExports);
      for (const s of classes) {
        const declared = entryChecker.getDeclaredTypeOfSymbol(s).getProperties().map((p) => p.name);
        assert.deepEqual(publicNames(declared), publicNames(Object.getOwnPropertyNames(moduleExports[s.name].prototype)).filter((n) => n !== 'free'), `${types}: ${s.name}`);
      }
    }
    const keys = checker.getDeclaredTypeOfSymbol(exported.get('MeshKeys')).getProperties().map((p) => p.name);
    // `client.keys` is a plain object, typed as the interface MeshKeys.
    const client = new runtime.MeshClient({ apiUrl: 'http://127.0.0.1:9', apiKey: 'mesh_sk_types_probe' });
    try {
      assert.deepEqual(publicNames(keys), publicNames(Object.keys(client.keys)));
    } finally {
      client.dispose();
    }
  });

  await t.test('a wrong call fails the check', async () => {
    await writeFile(join(dir, 'usage.ts'), "import { MeshClient } from 'mesh-sdk';\nnew MeshClient({ issuer: 1 });\n");
    assert.match(await tsc(dir, 'tsconfig.bundler.json'), /error TS2322|error TS2769|error TS2345/);
  });
});

test("MeshErrorCode is the crate's codes, each in the README's table", async () => {
  // The codes are Rust's (ErrorKind::code in src/error.rs); a kind added
  // there and not to the union (or the table) fails here.
  const rust = [...(await readFile(join(repo, 'src/error.rs'), 'utf8')).matchAll(/ErrorKind::\w+ => "(\w+)"/g)].map((m) => m[1]).sort();
  const file = join(repo, 'pkg-template/browser.d.ts');
  const program = ts.createProgram([file], { strict: true, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const union = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file))).find((s) => s.name === 'MeshErrorCode');
  const declared = checker.getDeclaredTypeOfSymbol(union).types.map((t) => t.value).sort();
  assert.ok(rust.length >= 20, `read ${rust.length} codes from src/error.rs`);
  assert.deepEqual(declared, rust);
  const readme = await readFile(join(repo, 'pkg-template/README.md'), 'utf8');
  const table = [...readme.matchAll(/^\| `(\w+)` \| /gm)].map((m) => m[1]);
  assert.deepEqual(rust.filter((code) => !table.includes(code)), [], 'codes missing from the README table');
});
