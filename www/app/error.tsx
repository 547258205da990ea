'use client';
// Last line of defence: an unexpected error shows a message and a way back,
// never a blank page.
import { useEffect } from 'react';

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => console.error(error), [error]);
  return (
    <div className="panel">
      <h1>Something went wrong</h1>
      <p role="alert">{error.message || 'An unexpected error occurred.'}</p>
      <button type="button" className="button primary" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
