// Runs the package's terminal commands (pkg/bin/*.js) as child processes.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../pkg/bin/', import.meta.url));

/** Runs a bin; `onLine(line, child)` sees each stdout line. Killed after `killAfterMs`. */
export function run(name, args, { env = {}, cwd, onLine, killAfterMs = 40_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(BIN, name), ...args], {
      cwd,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      pending += d;
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        onLine?.(line, child);
      }
    });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

