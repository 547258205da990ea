// Turns whatever a call threw into a sentence for the page. mesh-sdk errors
// carry a stable `code` (MeshErrorCode); their message never contains a token.
// Only types come from mesh-sdk here: a value import would load the wasm
// during the server render.
import type { MeshErrorCode } from 'mesh-sdk';

export type ErrorKind = 'session' | 'network' | 'other';

const SESSION_CODES: ReadonlySet<string> = new Set<MeshErrorCode>(['unauthorized', 'session_ended', 'not_logged_in']);
const NETWORK_CODES: ReadonlySet<string> = new Set<MeshErrorCode>(['network', 'timeout']);

export function errorCode(err: unknown): MeshErrorCode | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? (code as MeshErrorCode) : undefined;
}

export function errorKind(err: unknown): ErrorKind {
  const code = errorCode(err);
  if (code && SESSION_CODES.has(code)) return 'session';
  if (code && NETWORK_CODES.has(code)) return 'network';
  return 'other';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  if (typeof err === 'string' && err) return err;
  return 'Something went wrong.';
}

export function isAbort(err: unknown): boolean {
  return errorCode(err) === 'aborted' || (err instanceof Error && err.name === 'AbortError');
}
