'use client';
import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { QrCode } from '@/components/QrCode';
import { Status } from '@/components/Status';
import { errorCode, errorMessage, isAbort } from '@/lib/errors';
import { formatDuration, useMesh, useNow } from '@/lib/mesh';
import type { DeviceLogin } from 'mesh-sdk';

type Flow =
  | { step: 'idle'; notice?: { tone: 'info' | 'error'; text: string } }
  | { step: 'starting' }
  | { step: 'waiting'; login: DeviceLogin; expiresAt: number };

function failureText(err: unknown): string {
  switch (errorCode(err)) {
    case 'device_code_expired':
      return 'The code expired before it was approved. Start again to get a new code.';
    case 'access_denied':
      return 'The sign-in was denied on the provider’s page. Start again if that was a mistake.';
    case 'network':
      return `Could not reach the sign-in provider: ${errorMessage(err)}`;
    case 'timeout':
      return 'The sign-in provider did not answer in time. Try again.';
    default:
      return `Sign-in failed: ${errorMessage(err)}`;
  }
}

export function LoginView() {
  const { client, session, reloadSession, signIn, signOut } = useMesh();
  const [leaving, setLeaving] = useState<{ failed?: string }>();
  // Back from the provider's page through the browser's back/forward cache: "Sign in" again.
  useEffect(() => {
    const back = (event: PageTransitionEvent) => {
      if (event.persisted) setLeaving(undefined);
    };
    window.addEventListener('pageshow', back);
    return () => window.removeEventListener('pageshow', back);
  }, []);
  const [flow, setFlow] = useState<Flow>({ step: 'idle' });
  const abortRef = useRef<AbortController | null>(null);
  const justSignedIn = useRef(false);

  // Leaving the page cancels a login in progress.
  useEffect(() => () => abortRef.current?.abort(), []);

  // Starts a device login, or (`resumed`) completes one this tab started
  // before a reload: the SDK keeps it until it completes, fails, expires or
  // is cancelled.
  const run = useCallback(
    async (resumed?: DeviceLogin) => {
      if (client.status !== 'ready') return;
      abortRef.current?.abort();
      const controller = new AbortController();
      abortRef.current = controller;
      setFlow(resumed ? { step: 'waiting', login: resumed, expiresAt: resumed.expiresAt * 1000 } : { step: 'starting' });
      try {
        const login = resumed ?? (await client.client.startDeviceLogin({ signal: controller.signal }));
        if (controller.signal.aborted) return;
        // expiresIn counts from now; expiresAt would carry the local clock's skew too.
        if (!resumed) setFlow({ step: 'waiting', login, expiresAt: Date.now() + login.expiresIn * 1000 });
        await client.client.completeDeviceLogin(login, { signal: controller.signal });
        if (controller.signal.aborted) return;
        justSignedIn.current = true;
        await reloadSession();
        setFlow({ step: 'idle' });
      } catch (err) {
        if (abortRef.current !== controller) return; // a newer attempt owns the page
        if (controller.signal.aborted || isAbort(err)) {
          setFlow({ step: 'idle', notice: { tone: 'info', text: 'Sign-in cancelled. Start again for a new code.' } });
        } else {
          setFlow({ step: 'idle', notice: { tone: 'error', text: failureText(err) } });
        }
      } finally {
        if (abortRef.current === controller) abortRef.current = null;
      }
    },
    [client, reloadSession],
  );

  const start = useCallback(
    (event?: FormEvent) => {
      event?.preventDefault();
      void run();
    },
    [run],
  );

  // A login started before a reload goes on where it was.
  const resumeChecked = useRef(false);
  useEffect(() => {
    if (client.status !== 'ready' || resumeChecked.current) return;
    // Deferred, so React's development double mount resumes it once.
    const timer = setTimeout(() => {
      resumeChecked.current = true;
      const pending = client.client.pendingDeviceLogin();
      if (pending) void run(pending);
    }, 0);
    return () => clearTimeout(timer);
  }, [client, run]);

  const cancel = useCallback(() => {
    abortRef.current?.abort();
    if (client.status === 'ready' && flow.step === 'waiting') client.client.cancelDeviceLogin(flow.login);
  }, [client, flow]);

  if (client.status === 'error') {
    return (
      <Status tone="error">
        The sign-in library failed to load: {client.message}. Reload the page to try again.
      </Status>
    );
  }

  if (session.status === 'signedIn' && flow.step === 'idle') {
    return <SignedIn onSignOut={signOut} focus={justSignedIn.current} />;
  }

  if (flow.step === 'waiting') {
    return <Waiting login={flow.login} expiresAt={flow.expiresAt} onCancel={cancel} />;
  }

  const busy = client.status !== 'ready' || session.status === 'unknown' || flow.step === 'starting';
  const notice = flow.step === 'idle' ? flow.notice : undefined;
  const sessionNotice = session.status === 'signedOut' ? session.notice : undefined;
  const redirect = () => {
    setLeaving({});
    // On success the tab is on its way to the provider's sign-in page.
    signIn('/login').catch((err: unknown) => setLeaving({ failed: `Could not start the sign-in: ${errorMessage(err)}` }));
  };
  return (
    <>
      {sessionNotice && !notice ? <Status tone="info">{sessionNotice}</Status> : null}
      <section aria-labelledby="redirect-heading" className="panel">
        <h2 id="redirect-heading">Sign in with your account</h2>
        <p>The provider’s sign-in page opens in this tab and sends you back here.</p>
        {leaving?.failed ? <Status tone="error">{leaving.failed}</Status> : null}
        <button
          type="button"
          className="button primary"
          disabled={busy || (leaving !== undefined && !leaving.failed)}
          aria-busy={leaving !== undefined && !leaving.failed}
          onClick={redirect}
        >
          {leaving !== undefined && !leaving.failed ? 'Opening the sign-in page…' : 'Sign in'}
        </button>
      </section>
      <section aria-labelledby="start-heading" className="panel">
        <h2 id="start-heading">Or use a code</h2>
        <p>
          For a device without a keyboard, or to sign in on another device: you get a short code. Open the link on any
          device (this one is fine), sign in there, and approve. This page notices by itself.
        </p>
        {notice ? <Status tone={notice.tone}>{notice.text}</Status> : null}
        <form onSubmit={start}>
          <button type="submit" className="button" disabled={busy} aria-busy={busy}>
            {flow.step === 'starting'
              ? 'Requesting a code…'
              : notice?.tone === 'error' || notice?.tone === 'info'
                ? 'Start again'
                : 'Use a code'}
          </button>
        </form>
        {client.status === 'loading' || session.status === 'unknown' ? (
          <p className="muted" role="status">
            Loading…
          </p>
        ) : null}
      </section>
    </>
  );
}

function Waiting({ login, expiresAt, onCancel }: { login: DeviceLogin; expiresAt: number; onCancel: () => void }) {
  const now = useNow();
  // The start button is gone: move focus to what replaced it.
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  const left = expiresAt - now;
  const link = login.verificationUriComplete || login.verificationUri;
  return (
    <section aria-labelledby="code-heading" className="panel">
      <h2 id="code-heading" ref={headingRef} tabIndex={-1}>
        Enter this code
      </h2>
      <p className="user-code" data-testid="user-code" aria-label={`User code ${login.userCode.split('').join(' ')}`}>
        {login.userCode}
      </p>
      <div className="verify">
        <div>
          <p>
            Open{' '}
            <a href={link} target="_blank" rel="noopener noreferrer" data-testid="verification-link">
              {link}
            </a>{' '}
            and approve the sign-in.
          </p>
          {login.verificationUriComplete && login.verificationUriComplete !== login.verificationUri ? (
            <p className="muted">
              Or go to <code>{login.verificationUri}</code> and type the code.
            </p>
          ) : null}
          <p role="status" aria-live="polite" className="waiting">
            <span className="spinner" aria-hidden="true" /> Waiting for approval…
          </p>
          <p className="muted" data-testid="code-expiry">
            {left > 0 ? (
              <>
                The code expires in <time>{formatDuration(left)}</time>.
              </>
            ) : (
              'The code has expired.'
            )}
          </p>
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
        <QrCode value={link} label="QR code of the verification link" />
      </div>
    </section>
  );
}

function SignedIn({ onSignOut, focus }: { onSignOut: () => Promise<void>; focus: boolean }) {
  const { session } = useMesh();
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focus) headingRef.current?.focus();
  }, [focus]);
  const now = useNow();
  const [signingOut, setSigningOut] = useState(false);
  if (session.status !== 'signedIn') return null;
  const left = session.expiresAt !== undefined ? session.expiresAt - now : undefined;
  return (
    <section aria-labelledby="signed-in-heading" className="panel">
      <h2 id="signed-in-heading" ref={headingRef} tabIndex={-1}>
        Signed in as <span data-testid="user-name">{session.userName ?? 'unknown user'}</span>
      </h2>
      <dl className="facts">
        <dt>User id</dt>
        <dd>
          <code data-testid="user-id">{session.userId ?? 'unknown'}</code>
        </dd>
        <dt>Access token</dt>
        <dd data-testid="token-expiry">
          {left === undefined ? (
            'expiry unknown'
          ) : left > 0 ? (
            <>
              expires in <strong>{formatDuration(left)}</strong>{' '}
              <span className="muted">
                (at <time dateTime={new Date(session.expiresAt!).toISOString()}>{new Date(session.expiresAt!).toLocaleTimeString()}</time>)
              </span>
            </>
          ) : (
            'expired; refreshing…'
          )}
        </dd>
        <dt>Refreshes</dt>
        <dd aria-live="polite" data-testid="refresh-count">
          {session.refreshCount === 0
            ? 'none yet; the client refreshes before the token expires'
            : `${session.refreshCount}, last at ${new Date(session.lastRefreshAt!).toLocaleTimeString()}`}
        </dd>
      </dl>
      {session.warning ? <Status tone="error">{session.warning}</Status> : null}
      <div className="actions">
        <Link href="/settings" className="button primary">
          Manage API keys
        </Link>
        <button
          type="button"
          className="button"
          disabled={signingOut}
          onClick={() => {
            setSigningOut(true);
            void onSignOut().finally(() => setSigningOut(false));
          }}
        >
          {signingOut ? 'Signing out…' : 'Sign out'}
        </button>
      </div>
    </section>
  );
}
