// Server-only: the session cookies' key (MESH_SECRET). Without it, `next dev`
// (and so `make demo`'s development runs) falls back to a fixed key; a
// production server refuses to start, because anyone who can read this file
// could seal a session cookie with that key.
const DEV_SECRET = 'mesh-demo-development-secret-do-not-deploy-0123';

/** MESH_SECRET, or the development key outside production; throws in production without one. */
export function cookieSecret(): string {
  const secret = process.env.MESH_SECRET?.trim();
  if (secret) return secret;
  if (process.env.NODE_ENV !== 'production') return DEV_SECRET;
  throw new Error('MESH_SECRET is not set: a production server needs its own session cookie key (openssl rand -base64 32)');
}
