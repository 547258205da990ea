import type { Metadata, Viewport } from 'next';
import Link from 'next/link';
import { connection } from 'next/server';
import type { ReactNode } from 'react';
import { NavLink } from '@/components/NavLink';
import { SessionBadge } from '@/components/SessionBadge';
import { currentSession } from '@/lib/auth';
import { readMeshConfig } from '@/lib/config';
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
  // The session as the server sees it (mesh-sdk/next's auth()): no token in it.
  const session = await currentSession();
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <>
          <header className="site-header">
            <nav aria-label="Main" className="nav">
              <Link href="/" className="brand">
                mesh<span aria-hidden="true">·</span>sdk
              </Link>
              <ul>
                <li>
                  <NavLink href="/login">{session ? 'Your session' : 'Sign in'}</NavLink>
                </li>
                <li>
                  <NavLink href="/settings">API keys</NavLink>
                </li>
              </ul>
              <SessionBadge userName={session ? (session.userName ?? 'Signed in') : null} />
            </nav>
          </header>
          <main id="main" className="main">
            {children}
          </main>
        </>
        <footer className="site-footer">
          <p>
            Issuer <code>{config.issuer}</code> · API <code>{config.apiUrl}</code>
          </p>
        </footer>
      </body>
    </html>
  );
}
