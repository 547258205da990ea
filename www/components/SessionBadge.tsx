'use client';
import { useMesh } from '@/lib/mesh';

export function SessionBadge() {
  const { client, session } = useMesh();
  if (client.status === 'error' || session.status === 'unknown') return null;
  if (session.status !== 'signedIn') {
    return <span className="badge badge-muted">Signed out</span>;
  }
  return (
    <span className="badge badge-ok" title="Signed in">
      <span aria-hidden="true">●</span> {session.userName ?? 'Signed in'}
    </span>
  );
}
