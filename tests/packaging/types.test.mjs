// tsc --noEmit over a typed usage file, against the packed package's
// hand-written types, with both module resolutions users pick.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { bin, freshProject, repo } from './helpers.mjs';

const run = promisify(execFile);

const tsconfig = (moduleResolution, module) => JSON.stringify({
  compilerOptions: {
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
  files: ['usage.ts'],
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
      'package.json': JSON.stringify({ name: 'types-probe', private: true, type: 'module' }),
    },
  });
  await copyFile(join(repo, 'tests/packaging/types/usage.ts'), join(dir, 'usage.ts'));

  await t.test('moduleResolution nodenext', async () => {
    assert.equal(await tsc(dir, 'tsconfig.nodenext.json'), '');
  });
  await t.test('moduleResolution bundler', async () => {
    assert.equal(await tsc(dir, 'tsconfig.bundler.json'), '');
  });
  await t.test('a wrong call fails the check', async () => {
    await writeFile(join(dir, 'usage.ts'), "import { MeshClient } from 'mesh-sdk';\nnew MeshClient({ issuer: 1 });\n");
    assert.match(await tsc(dir, 'tsconfig.bundler.json'), /error TS2322|error TS2769|error TS2345/);
  });
});
