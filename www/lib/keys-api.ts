// The page's side of the key API: the app's own route handlers
// (app/api/keys/...), which call the gateway with the server-held token. The
// page never holds a token. A refusal becomes an Error with the gateway's
// `code` and the HTTP `status` (the page tells an answer from no answer by
// `status`); no answer at all is a `network` error without a status.
import type { ApiKey as MeshApiKey, CreatedApiKey } from 'mesh-sdk';

export class KeyApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number,
    /** The gateway's own `error` code, as it answered. */
    readonly gatewayError?: string,
  ) {
    super(message);
    this.name = 'KeyApiError';
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new KeyApiError('the app did not answer', 'network');
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const p = (parsed ?? {}) as { error?: unknown; message?: unknown };
    const gatewayError = typeof p.error === 'string' ? p.error : 'http_error';
    const message = typeof p.message === 'string' ? p.message : `${res.status} ${gatewayError}`;
    // The codes the SDK's client gives these statuses (401: the session is
    // gone, signed out in another tab or ended; 403: not allowed), else the gateway's.
    const code = res.status === 401 ? 'unauthorized' : res.status === 403 ? 'forbidden' : gatewayError;
    throw new KeyApiError(message, code, res.status === 502 && gatewayError === 'network' ? undefined : res.status, gatewayError);
  }
  return parsed as T;
}

export const keysApi = {
  async list(): Promise<MeshApiKey[]> {
    const body = await call<{ keys?: MeshApiKey[] } | MeshApiKey[]>('GET', '/api/keys');
    return Array.isArray(body) ? body : (body?.keys ?? []);
  },
  create(name: string, options: { scopes?: string[]; expiresAt?: Date }): Promise<CreatedApiKey> {
    return call('POST', '/api/keys', { name, scopes: options.scopes, expiresAt: options.expiresAt?.toISOString() });
  },
  async revoke(id: string): Promise<void> {
    await call('DELETE', `/api/keys/${encodeURIComponent(id)}`);
  },
  rotate(id: string, options: { gracePeriodSeconds?: number }): Promise<CreatedApiKey> {
    return call('POST', `/api/keys/${encodeURIComponent(id)}/rotate`, { gracePeriodSeconds: options.gracePeriodSeconds });
  },
};
