import type { Metadata, Viewport } from 'next';
import Link from 'next/link';
import { connection } from 'next/server';
import type { ReactNode } from 'react';
import { NavLink } from '@/components/NavLink';
import { SessionBadge } from '@/components/SessionBadge';
import { SessionNavLabel } from '@/components/SessionNavLabel';
import { readMeshConfig } from '@/lib/config';
import { MeshProvider } from '@/lib/mesh';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'mesh-sdk demo', template: '%s · mesh-sdk demo' },
  description: 'Redirect and device-code sign-in, and API keys, with mesh-sdk.',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1, colorScheme: 'light dark' };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Render per request, so the configuration comes from the server's
  // environment now, not from the build (see lib/config.ts).
  await connection();
  const config = readMeshConfig();
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <MeshProvider config={config}>
          <header className="site-header">
            <nav aria-label="Main" className="nav">
              <Link href="/" className="brand">
                mesh<span aria-hidden="true">·</span>sdk
              </Link>
              <ul>
                <li>
                  <NavLink href="/login">
                    <SessionNavLabel />
                  </NavLink>
                </li>
                <li>
                  <NavLink href="/settings">API keys</NavLink>
                </li>
              </ul>
              <SessionBadge />
            </nav>
          </header>
          <main id="main" className="main">
            {children}
          </main>
        </MeshProvider>
        <footer className="site-footer">
          <p>
            Issuer <code>{config.issuer}</code> · API <code>{config.apiUrl}</code>
          </p>
        </footer>
      </body>
    </html>
  );
}
