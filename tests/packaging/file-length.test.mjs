// The project's rule that no code file outside the tests is over 600 lines
// (a Rust file's lines before its `#[cfg(test)]`), checked on every tracked
// file so a file that grows past it fails here rather than in review.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const repo = join(import.meta.dirname, '..', '..');
const MAX_LINES = 600;
const CODE = /\.(rs|js|mjs|cjs|ts|tsx|sh)$/;

/** Lines that count: a Rust file's before its test module, any other file's all. */
function codeLines(text, path) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (path.endsWith('.rs')) {
    const tests = lines.findIndex((l) => l.startsWith('#[cfg(test)]'));
    if (tests >= 0) return tests;
  }
  return lines.length;
}

test('codeLines counts a Rust file up to its tests, any other file whole', () => {
  assert.equal(codeLines('a\nb\n#[cfg(test)]\nmod tests {}\n', 'x.rs'), 2);
  assert.equal(codeLines('a\nb\n#[cfg(test)]\n', 'x.js'), 3);
  assert.equal(codeLines('a\n', 'x.rs'), 1);
});

test(`no code file outside the tests is over ${MAX_LINES} lines`, () => {
  const files = execFileSync('git', ['ls-files'], { cwd: repo, encoding: 'utf8' })
    .split('\n')
    .filter((f) => CODE.test(f) && !f.startsWith('tests/') && !f.endsWith('_tests.rs') && !f.endsWith('.d.ts') && !f.startsWith('fuzz/corpus/'));
  assert.ok(files.length > 100, `git ls-files listed the project's code (${files.length} files)`);
  const over = files
    .map((f) => [f, codeLines(readFileSync(join(repo, f), 'utf8'), f)])
    .filter(([, n]) => n > MAX_LINES)
    .map(([f, n]) => `${f}: ${n} lines`);
  assert.deepEqual(over, [], 'split these into modules whose names say what they hold');
});
