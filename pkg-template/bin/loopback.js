// mesh-auth's browser login (RFC 8252 §7.3): a one-shot HTTP listener on
// http://127.0.0.1:<random port>/callback, the system browser opened on the
// authorization URL, and the client's redirect login (the same state, nonce,
// iss and ID-token checks as in a web app: src/client/redirect.rs).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';

/** The browser's page after the callback: short, no script, no outside resources. */
function page(res, status, title, text) {
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'",
    'referrer-policy': 'no-referrer',
  });
  res.end(`<!doctype html><meta charset="utf-8"><title>${esc(title)}</title><h1>${esc(title)}</h1><p>${esc(text)}</p>`);
}

/** Opens `url` in the system browser; detached, output and errors ignored. */
export function openBrowser(url, platform = process.platform) {
  const [cmd, args] = platform === 'darwin' ? ['open', [url]]
    : platform === 'win32' ? ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]]
      : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No opener: the URL is printed too.
  }
}

/** Listens on 127.0.0.1 only, on a port the system picks. */
export async function listenLoopback() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  return server;
}

/** Closes the listener and any connection a browser kept open. */
function closeServer(server) {
  server.close();
  server.closeAllConnections();
}

/**
 * The browser login: `{ session }`, or throws (the client's MeshError, or
 * `{ timedOut: true }` / `{ aborted: true }`). `onUrl(url, redirectUri)` shows the URL.
 * A callback of another login (code `state_mismatch`) is refused with 400 and
 * the login keeps waiting; any other verdict ends it.
 */
export async function browserLogin(client, plan, { waitMs, signal, onUrl }) {
  const server = await listenLoopback();
  const redirectUri = `http://127.0.0.1:${server.address().port}/callback`;
  try {
    const url = await client.authorizeUrl({ redirectUri, ...(plan.prompt ? { prompt: plan.prompt } : {}), extraParams: plan.params });
    onUrl(url, redirectUri);
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { timedOut: true })), waitMs);
      const stop = () => reject(Object.assign(new Error('aborted'), { aborted: true }));
      signal.addEventListener('abort', stop, { once: true });
      const done = (fn, value) => { clearTimeout(timer); signal.removeEventListener('abort', stop); fn(value); };
      let busy = false;
      server.on('request', async (req, res) => {
        const path = (req.url ?? '').split('?')[0];
        if (req.method !== 'GET' || path !== '/callback') return page(res, 404, 'Not found', 'This is mesh-auth\'s sign-in listener.');
        if (busy) return page(res, 409, 'Sign-in in progress', 'Another answer is being checked.');
        busy = true;
        try {
          const session = await client.handleRedirectCallback(`http://127.0.0.1:${server.address().port}${req.url}`);
          page(res, 200, 'Signed in', 'mesh-auth is signed in. You can close this tab and go back to the terminal.');
          done(resolve, session);
        } catch (err) {
          page(res, 400, 'Sign-in failed', `${err?.message ?? err}. Go back to the terminal.`);
          if (err?.code === 'state_mismatch') busy = false;
          else done(reject, err);
        }
      });
    });
  } finally {
    closeServer(server);
  }
}
