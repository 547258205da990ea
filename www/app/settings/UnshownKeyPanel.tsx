'use client';
import { useState } from 'react';
import { Status } from '@/components/Status';
import type { ApiKey } from '@/lib/keys';
import { CallError } from './CallError';

/**
 * A key created before the page was reloaded, whose secret was never shown:
 * nobody can have stored it, so the page offers to revoke it.
 */
export function UnshownKeyPanel({ apiKey, onRevoke, onKeep }: { apiKey: ApiKey; onRevoke: () => Promise<void>; onKeep: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <section aria-labelledby="unshown-key-heading" className="panel" data-testid="unshown-key">
      <h2 id="unshown-key-heading">A key was created but never shown</h2>
      <Status tone="info">
        The key “{apiKey.name}” ({apiKey.masked}) was created, but the page was reloaded before it could show the key. It
        cannot be shown again: revoke it, then create a new one.
      </Status>
      {error ? <CallError error={error} action="revoke the key" /> : null}
      <div className="actions">
        <button
          type="button"
          className="button primary"
          disabled={busy}
          aria-busy={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              await onRevoke();
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          Revoke it
        </button>
        <button type="button" className="button" disabled={busy} onClick={onKeep}>
          Keep it
        </button>
      </div>
    </section>
  );
}
