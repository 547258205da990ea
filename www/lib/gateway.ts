// Server-only: the gateway's key API called with the signed-in user's
// access token, which stays on the server. mesh-sdk/next's fetchApi attaches
// it (refreshed ahead of expiry, and once more after a 401), and answers a
// failure with its own status and { error, message }: this app holds no
// status rule. The gateway's answers, coded errors included, pass through.
import { meshAuth } from './auth';

const KEYS_PATH = '/api/v1/keys';

/** `method` `KEYS_PATH + suffix` at the gateway, as the signed-in user. */
export function callKeys(method: string, suffix = '', body?: string): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body) headers['content-type'] = 'application/json';
  return meshAuth().fetchApi(`${KEYS_PATH}${suffix}`, { method, headers, body });
}
