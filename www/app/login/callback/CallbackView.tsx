'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { Status } from '@/components/Status';
import { errorCode, errorMessage } from '@/lib/errors';
import { useMesh } from '@/lib/mesh';
import type { MeshClient, RedirectSession } from 'mesh-sdk';

// One completion per callback URL and page load: React's development double
// mount (and a re-render) must not send the consumed callback twice, which
// the client would refuse as a replay.
const completions = new Map<string, Promise<RedirectSession>>();

function complete(client: MeshClient, url: string): Promise<RedirectSession> {
  let done = completions.get(url);
  if (!done) {
    done = client.handleRedirectCallback(url);
    completions.set(url, done);
  }
  return done;
}

function failureText(err: unknown): string {
  switch (errorCode(err)) {
    case 'state_mismatch':
      return 'This sign-in was not started in this tab, has expired, or was already completed. Start again from the sign-in page.';
    case 'issuer_mismatch':
      return 'The answer did not come from this app’s sign-in provider, so it was refused.';
    case 'access_denied':
      return `The sign-in was denied on the provider’s page. ${errorMessage(err)}`;
    case 'login_required':
      return `The provider needs you to sign in again. ${errorMessage(err)}`;
    case 'invalid_id_token':
      return `The provider’s identity token failed a check, so the sign-in was refused: ${errorMessage(err)}`;
    case 'network':
    case 'timeout':
      return `Could not reach the sign-in provider: ${errorMessage(err)}`;
    default:
      return `Sign-in failed: ${errorMessage(err)}`;
  }
}

export function CallbackView() {
  const { client, reloadSession } = useMesh();
  const router = useRouter();
  const [failure, setFailure] = useState<string>();

  useEffect(() => {
    if (client.status !== 'ready') return;
    let current = true;
    complete(client.client, location.href).then(
      async (session) => {
        await reloadSession();
        // Off the callback URL: its code is spent, and it stays out of history.
        if (current) router.replace(session.returnTo ?? '/login');
      },
      (err: unknown) => {
        if (current) setFailure(failureText(err));
      },
    );
    return () => {
      current = false;
    };
  }, [client, reloadSession, router]);

  if (client.status === 'error') {
    return <Status tone="error">The sign-in library failed to load: {client.message}. Reload the page to try again.</Status>;
  }
  if (failure) {
    return (
      <section className="panel" aria-labelledby="callback-failed">
        <h2 id="callback-failed">The sign-in did not complete</h2>
        <Status tone="error">{failure}</Status>
        <p>Nothing from this attempt was stored.</p>
        <Link href="/login" className="button primary">
          Back to sign in
        </Link>
      </section>
    );
  }
  return (
    <p className="muted" role="status">
      <span className="spinner" aria-hidden="true" /> Completing the sign-in…
    </p>
  );
}
