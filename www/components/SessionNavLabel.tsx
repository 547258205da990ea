'use client';
import { useMesh } from '@/lib/mesh';

/** The /login link's label: "Sign in", or "Your session" once signed in. */
export function SessionNavLabel() {
  const { session } = useMesh();
  return <>{session.status === 'signedIn' ? 'Your session' : 'Sign in'}</>;
}
