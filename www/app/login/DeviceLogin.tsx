'use client';
// "Use a code": the device login, run by the app's server (mesh-sdk/next's
// /auth/device routes). The device code stays on the server in a sealed
// cookie; this page gets the user code and the link, asks the server to poll
// (it sends a request to the provider only when the device-flow rules allow
// one, and says when to ask again), and survives a reload: the server still
// holds the pending login.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { MeshDeviceLogin, MeshDevicePoll } from 'mesh-sdk/next';
import { QrCode } from '@/components/QrCode';
import { Status } from '@/components/Status';
import { formatDuration, useNow } from '@/lib/time';

type Flow =
  | { step: 'idle'; notice?: { tone: 'info' | 'error'; text: string } }
  | { step: 'starting' }
  | { step: 'waiting'; login: MeshDeviceLogin; expiresAt: number };

function failureText(code: string | null | undefined, message?: string): string {
  switch (code) {
    case 'device_code_expired':
      return 'The code expired before it was approved. Start again to get a new code.';
    case 'access_denied':
      return 'The sign-in was denied on the provider’s page. Start again if that was a mistake.';
    case 'state_mismatch':
      return 'This sign-in is no longer pending (it ended in another tab, or expired). Start again for a new code.';
    case 'network':
      return `Could not reach the sign-in provider${message ? `: ${message}` : '.'}`;
    case 'timeout':
      return 'The sign-in provider did not answer in time. Try again.';
    default:
      return `Sign-in failed: ${message ?? code ?? 'unknown error'}`;
  }
}

async function post<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(path, { method: 'POST', headers: { accept: 'application/json' }, cache: 'no-store' });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
}

export function DeviceLogin({ returnTo }: { returnTo: string }) {
  const [flow, setFlow] = useState<Flow>({ step: 'idle' });
  const [checked, setChecked] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Each attempt's number: answers of an older one are dropped.
  const attempt = useRef(0);

  const stop = useCallback(() => {
    attempt.current++;
    clearTimeout(timer.current);
  }, []);
  useEffect(() => stop, [stop]);

  const poll = useCallback(
    async (mine: number) => {
      let answer: { status: number; body: MeshDevicePoll & { error?: string | null; message?: string } };
      try {
        answer = await post('/auth/device/poll');
      } catch {
        // The app itself did not answer: try again shortly; the server keeps the login.
        if (attempt.current === mine) timer.current = setTimeout(() => void poll(mine), 3000);
        return;
      }
      if (attempt.current !== mine) return;
      const body = answer.body;
      if (body.state === 'pending') {
        timer.current = setTimeout(() => void poll(mine), body.retryAfterMs);
      } else if (body.state === 'complete') {
        // A whole page load: the layout and the page read the new session on the server.
        window.location.assign(returnTo);
      } else {
        setFlow({ step: 'idle', notice: { tone: 'error', text: failureText(body.error, body.message) } });
      }
    },
    [returnTo],
  );

  const wait = useCallback(
    (login: MeshDeviceLogin, expiresAt: number) => {
      stop();
      const mine = attempt.current;
      setFlow({ step: 'waiting', login, expiresAt });
      void poll(mine);
    },
    [poll, stop],
  );

  // A login started before a reload goes on where it was.
  useEffect(() => {
    let live = true;
    fetch('/auth/device', { headers: { accept: 'application/json' }, cache: 'no-store' })
      .then((res) => res.json() as Promise<{ login: MeshDeviceLogin | null }>)
      .then(({ login }) => {
        if (live && login) wait(login, login.expiresAt * 1000);
      })
      .catch(() => {})
      .finally(() => live && setChecked(true));
    return () => {
      live = false;
    };
  }, [wait]);

  const start = useCallback(
    async (event?: FormEvent) => {
      event?.preventDefault();
      stop();
      setFlow({ step: 'starting' });
      try {
        const { status, body } = await post<{ login?: MeshDeviceLogin; error?: string; message?: string }>('/auth/device');
        if (status !== 200 || !body.login) {
          setFlow({ step: 'idle', notice: { tone: 'error', text: failureText(body.error, body.message) } });
          return;
        }
        // expiresIn counts from now; expiresAt would carry the local clock's skew too.
        wait(body.login, Date.now() + body.login.expiresIn * 1000);
      } catch {
        setFlow({ step: 'idle', notice: { tone: 'error', text: failureText('network') } });
      }
    },
    [stop, wait],
  );

  const cancel = useCallback(async () => {
    stop();
    setFlow({ step: 'idle', notice: { tone: 'info', text: 'Sign-in cancelled. Start again for a new code.' } });
    await post('/auth/device/cancel').catch(() => {});
  }, [stop]);

  if (flow.step === 'waiting') {
    return <Waiting login={flow.login} expiresAt={flow.expiresAt} onCancel={() => void cancel()} />;
  }

  const busy = !checked || flow.step === 'starting';
  const notice = flow.step === 'idle' ? flow.notice : undefined;
  return (
    <section aria-labelledby="start-heading" className="panel">
      <h2 id="start-heading">Or use a code</h2>
      <p>
        For a device without a keyboard, or to sign in on another device: you get a short code. Open the link on any device
        (this one is fine), sign in there, and approve. This page notices by itself.
      </p>
      {notice ? <Status tone={notice.tone}>{notice.text}</Status> : null}
      <form onSubmit={(e) => void start(e)}>
        <button type="submit" className="button" disabled={busy} aria-busy={busy}>
          {flow.step === 'starting' ? 'Requesting a code…' : notice ? 'Start again' : 'Use a code'}
        </button>
      </form>
    </section>
  );
}

function Waiting({ login, expiresAt, onCancel }: { login: MeshDeviceLogin; expiresAt: number; onCancel: () => void }) {
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
          {login.verificationUriComplete !== login.verificationUri ? (
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
