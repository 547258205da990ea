'use client';
import Link from 'next/link';
import { Status } from '@/components/Status';
import { errorKind, errorMessage } from '@/lib/errors';

/** An inline error that says what to do next. */
export function CallError({ error, action, onRetry }: { error: unknown; action: string; onRetry?: () => void }) {
  const kind = errorKind(error);
  return (
    <Status tone="error">
      {kind === 'session' ? (
        <>
          Could not {action}: your session has expired or you are signed out. <Link href="/login">Sign in again</Link>.
        </>
      ) : kind === 'network' ? (
        <>
          Could not {action}: the API did not answer ({errorMessage(error)}). Check your connection and that the gateway is
          running.
        </>
      ) : (
        <>
          Could not {action}: {errorMessage(error)}
        </>
      )}
      {onRetry && kind !== 'session' ? (
        <>
          {' '}
          <button type="button" className="link-button" onClick={onRetry}>
            Try again
          </button>
        </>
      ) : null}
    </Status>
  );
}
