'use client';
import { useEffect, useState } from 'react';
import { formatDuration, useNow } from '@/lib/time';

/**
 * The access token's expiry as the server read it, counting down. The server
 * render shows the instant only (the clock and the time zone are the
 * browser's), the countdown starts once hydrated.
 */
export function TokenExpiry({ expiresAt }: { expiresAt: number | undefined }) {
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
  const now = useNow(expiresAt !== undefined && hydrated);
  if (expiresAt === undefined) return <>expiry unknown</>;
  const at = new Date(expiresAt);
  const instant = <time dateTime={at.toISOString()}>{hydrated ? at.toLocaleTimeString() : at.toISOString()}</time>;
  if (!hydrated) return <>expires at {instant}</>;
  const left = expiresAt - now;
  return left > 0 ? (
    <>
      expires in <strong>{formatDuration(left)}</strong> <span className="muted">(at {instant})</span>
    </>
  ) : (
    <>expired; the server refreshes it on the next call</>
  );
}
