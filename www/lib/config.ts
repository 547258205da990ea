// Server-only: reads the app's mesh-sdk configuration when a request is
// rendered, so one `next build` serves any issuer, gateway and ports.
//
// Next.js inlines `process.env.NEXT_PUBLIC_*` into every bundle at build time
// (server bundles too), which would freeze the values the build saw. Reading
// through a computed key escapes that inlining; the literal reference below is
// kept as the fallback, so a value given only at build time still applies.
import type { MeshConfig } from './mesh-types';

export const DEMO_CONFIG: MeshConfig = {
  issuer: 'http://127.0.0.1:9400',
  clientId: 'mesh-demo',
  audience: 'http://127.0.0.1:8787',
  apiUrl: 'http://127.0.0.1:8787',
};

const BUILD_TIME: Partial<Record<keyof MeshConfig, string | undefined>> = {
  issuer: process.env.NEXT_PUBLIC_MESH_ISSUER,
  clientId: process.env.NEXT_PUBLIC_MESH_CLIENT_ID,
  audience: process.env.NEXT_PUBLIC_MESH_AUDIENCE,
  apiUrl: process.env.NEXT_PUBLIC_MESH_API_URL,
};

const VARIABLES: Record<keyof MeshConfig, string> = {
  issuer: 'ISSUER',
  clientId: 'CLIENT_ID',
  audience: 'AUDIENCE',
  apiUrl: 'API_URL',
};

function runtimeValue(suffix: string): string | undefined {
  const env: Record<string, string | undefined> = process.env;
  const value = env[`NEXT_PUBLIC_MESH_${suffix}`]?.trim();
  return value ? value : undefined;
}

/** Call only during dynamic rendering (after `await connection()`). */
export function readMeshConfig(): MeshConfig {
  const config = { ...DEMO_CONFIG };
  for (const key of Object.keys(VARIABLES) as (keyof MeshConfig)[]) {
    config[key] = runtimeValue(VARIABLES[key]) ?? (BUILD_TIME[key]?.trim() || DEMO_CONFIG[key]);
  }
  return config;
}

/** The app's own URL as the browser reaches it (the redirect URI and the Origin POSTs must carry). */
export function readAppUrl(): string {
  return process.env.MESH_APP_URL?.trim() || 'http://127.0.0.1:3000';
}
