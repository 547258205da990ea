// Child processes the tests start in their own process group (`spawn` with
// `detached: true`) are tracked here, so that a test run that exits, or is
// stopped by a signal, takes them and their children (workerd, next-server)
// with it. Add a child to `live` when it starts; delete it when it exits.
export const live = new Set();

export function killGroup(child, signal) {
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}

const killAll = () => { for (const child of live) killGroup(child, 'SIGKILL'); };
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAll();
    // Exit as the signal would have, unless the importer handles it itself.
    if (process.listenerCount(sig) === 0) process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}
