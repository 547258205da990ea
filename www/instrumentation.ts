// Runs once when the server starts: a production server without MESH_SECRET
// fails here, not at its first sign-in.
export async function register() {
  if (process.env.NEXT_RUNTIME === 'nodejs') {
    const { cookieSecret } = await import('./lib/secret');
    cookieSecret();
  }
}
