'use client';
import { useMesh } from '@/lib/mesh';

/** The page's heading: what the page offers now, not "Sign in" to a signed-in user. */
export function LoginHeading() {
  const { session } = useMesh();
  return <h1>{session.status === 'signedIn' ? 'Your session' : 'Sign in'}</h1>;
}
