// What makes a wasm build big: optimises the named (pre-wasm-opt) output of
// scripts/build.sh with the release flags plus -g (keep the name section),
// then prints the size by section, by crate/module and the largest functions.
//
//   node benches/size/breakdown.mjs [client|full|FILE.wasm] [--top N]
//
// The input is target/bindgen/<variant>/mesh_sdk_<variant>_bg.named.wasm, which
// scripts/build.sh keeps beside the optimised module.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const topIdx = args.indexOf('--top');
const top = topIdx >= 0 ? Number(args[topIdx + 1]) : 30;
const target = args.find((a, i) => !a.startsWith('--') && (topIdx < 0 || i !== topIdx + 1)) ?? 'client';
const input = target.endsWith('.wasm') ? resolve(target) : join(repo, `target/bindgen/${target}/mesh_sdk_${target.replace('-', '_')}_bg.named.wasm`);
if (!existsSync(input)) {
  console.error(`${input} is missing: run scripts/build.sh (it keeps the named module)`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'mesh-breakdown-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const out = join(work, 'named-opt.wasm');
const features = ['--enable-bulk-memory', '--enable-multivalue', '--enable-mutable-globals',
  '--enable-nontrapping-float-to-int', '--enable-reference-types', '--enable-sign-ext'];
execFileSync(join(repo, 'node_modules/.bin/wasm-opt'),
  ['-Oz', '--converge', '--strip-producers', '--strip-target-features', ...features, '-g', input, '-o', out]);
const bytes = readFileSync(out);

// ---- A minimal wasm reader: sections, imports, code bodies, names.
let pos = 8;
const u32 = () => {
  let result = 0, shift = 0, b;
  do { b = bytes[pos++]; result |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
  return result >>> 0;
};
const name = () => { const n = u32(); const s = bytes.subarray(pos, pos + n).toString('utf8'); pos += n; return s; };
const sectionNames = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'];
const sections = [];
let importedFuncs = 0;
const bodies = []; // [size]
const funcNames = new Map();
while (pos < bytes.length) {
  const id = bytes[pos++];
  const size = u32();
  const start = pos;
  let label = sectionNames[id] ?? `#${id}`;
  if (id === 0) {
    const custom = name();
    label = `custom "${custom}"`;
    if (custom === 'name') {
      while (pos < start + size) {
        const sub = bytes[pos++];
        const subSize = u32();
        const subEnd = pos + subSize;
        if (sub === 1) {
          for (let n = u32(); n > 0; n--) { const idx = u32(); funcNames.set(idx, name()); }
        }
        pos = subEnd;
      }
    }
  } else if (id === 2) {
    for (let n = u32(); n > 0; n--) {
      name(); name();
      const kind = bytes[pos++];
      if (kind === 0) { importedFuncs++; u32(); }
      else if (kind === 1) { pos++; const f = u32(); u32(); if (f & 1) u32(); }
      else if (kind === 2) { const f = u32(); u32(); if (f & 1) u32(); }
      else if (kind === 3) { pos++; pos++; }
      else pos += 1;
    }
  } else if (id === 10) {
    for (let n = u32(); n > 0; n--) { const s = u32(); bodies.push(s); pos += s; }
  }
  sections.push({ label, size });
  pos = start + size;
}

// ---- Names: legacy Rust mangling to paths; group by crate (and module for core/alloc/std).
function demangle(s) {
  if (!s.startsWith('_ZN')) return s;
  const parts = [];
  let i = 3;
  while (i < s.length && s[i] !== 'E') {
    let len = 0;
    while (s[i] >= '0' && s[i] <= '9') len = len * 10 + Number(s[i++]);
    if (!len) break;
    parts.push(s.slice(i, i + len));
    i += len;
  }
  if (/^h[0-9a-f]{16}$/.test(parts.at(-1) ?? '')) parts.pop();
  return parts.join('::').replace(/\$LT\$/g, '<').replace(/\$GT\$/g, '>').replace(/\$u20\$/g, ' ')
    .replace(/\$RF\$/g, '&').replace(/\$C\$/g, ',').replace(/\.\./g, '::');
}
function group(full) {
  // An async body monomorphised into wasm-bindgen-futures' executor belongs to
  // the code that wrote it.
  const inner = full.match(/future_to_promise::<+(.*)$/);
  const path = (inner ? inner[1] : full).replace(/^<+/, '').replace(/^(&|dyn |mut )+/, '');
  const segs = path.split('::');
  if (/^(core|alloc|std)$/.test(segs[0])) return `${segs[0]}::${segs[1] ?? ''}`.replace(/[<{].*$/, '');
  if (segs[0] === 'mesh_sdk') return segs.slice(0, segs[1] === 'wasm' ? 4 : 3).join('::').replace(/[<{>].*$/, '');
  if (/^__wbg|^__wbindgen|^wasm_bindgen/.test(path)) return 'wasm-bindgen shims';
  return segs[0].replace(/[<{ ].*$/, '') || '(unnamed)';
}

const funcs = bodies.map((size, i) => {
  const raw = funcNames.get(i + importedFuncs) ?? `func[${i + importedFuncs}]`;
  // Drop crate disambiguators (`core[f6b2…]`) and symbol hashes.
  const full = demangle(raw).replace(/\[[0-9a-f]{8,}\]/g, '');
  return { size, name: full, group: group(full) };
});
const codeTotal = bodies.reduce((a, b) => a + b, 0);
const kb = (n) => (n / 1024).toFixed(1);

console.log(`# ${input}\n(optimised with -g: ${kb(bytes.length)} KB, ${kb(gzipSync(bytes, { level: 9 }).length)} KB gz; `
  + `the shipped module has no name section)\n`);
console.log('| section | KB | % |\n| --- | ---: | ---: |');
for (const s of sections) console.log(`| ${s.label} | ${kb(s.size)} | ${((100 * s.size) / bytes.length).toFixed(1)} |`);

const groups = new Map();
for (const f of funcs) {
  const g = groups.get(f.group) ?? { size: 0, count: 0 };
  g.size += f.size; g.count++;
  groups.set(f.group, g);
}
console.log(`\n| crate / module | functions | code KB | % of code |\n| --- | ---: | ---: | ---: |`);
for (const [g, v] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top)) {
  console.log(`| ${g} | ${v.count} | ${kb(v.size)} | ${((100 * v.size) / codeTotal).toFixed(1)} |`);
}
console.log(`\n| largest functions | bytes |\n| --- | ---: |`);
for (const f of [...funcs].sort((a, b) => b.size - a.size).slice(0, top)) {
  console.log(`| ${f.name.length > 110 ? `${f.name.slice(0, 107)}...` : f.name} | ${f.size} |`);
}
