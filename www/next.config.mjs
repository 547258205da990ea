import { fileURLToPath } from 'node:url';

// The repository root has its own package-lock.json; pin the app's root here so
// Next.js does not pick the parent folder as the workspace root.
const root = fileURLToPath(new URL('.', import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root },
  outputFileTracingRoot: root,
};

export default nextConfig;
