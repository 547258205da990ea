'use client';
import { usePathname } from 'next/navigation';
import type { ReactNode } from 'react';

// A nav link that marks the current page (aria-current), for screen readers
// and for the underline style. A whole page load, not a client-side
// transition: the layout's session (read on the server) is then current, so
// a sign-out in another tab shows on the next navigation.
export function NavLink({ href, children }: { href: string; children: ReactNode }) {
  const current = usePathname() === href;
  return (
    <a href={href} aria-current={current ? 'page' : undefined}>
      {children}
    </a>
  );
}
