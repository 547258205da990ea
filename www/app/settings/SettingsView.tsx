'use client';
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import type { ReactNode, Ref } from 'react';
import { Status } from '@/components/Status';
import { toKeys, toNewKey } from '@/lib/keys';
import type { ApiKey, NewKey } from '@/lib/keys';
import { keysApi } from '@/lib/keys-api';
import { CallError } from './CallError';
import { CreateKeyForm } from './CreateKeyForm';
import { UnshownKeyPanel } from './UnshownKeyPanel';
import { creationSettled, noteCreating, unfinishedCreation, unshownKey } from '@/lib/unshown-key';

type Load =
  | { state: 'loading' }
  | { state: 'ready'; keys: ApiKey[] }
  | { state: 'error'; error: unknown };

function formatDate(date: Date | undefined, none = '—'): string {
  if (!date) return none;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** How long a rotated-out key keeps working, as the rotate step offers it. */
const GRACE_CHOICES: { label: string; seconds: number }[] = [
  { label: 'Stop the old key at once', seconds: 0 },
  { label: 'Keep the old key for 1 hour', seconds: 3600 },
  { label: 'Keep the old key for 24 hours', seconds: 86400 },
];

/** The signed-in user's keys, through the app's route handlers (the server holds the token). */
export function SettingsView() {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [created, setCreated] = useState<NewKey | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const keysHeadingRef = useRef<HTMLHeadingElement>(null);
  const api = keysApi;
  // A creation the last page load did not see end, read once per load.
  const [unfinished, setUnfinished] = useState(() => (typeof window === 'undefined' ? null : unfinishedCreation()));
  const unshown = unfinished && load.state === 'ready' ? unshownKey(unfinished, load.keys) : null;
  useEffect(() => {
    // The list has no key from it: it never reached the gateway.
    if (unfinished && load.state === 'ready' && !unshown) {
      setUnfinished(null);
      creationSettled();
    }
  }, [unfinished, load.state, unshown]);
  const dismissUnshown = useCallback(() => {
    setUnfinished(null);
    creationSettled();
  }, []);

  const refresh = useCallback(
    async (signal?: AbortSignal) => {
      setLoad((prev) => (prev.state === 'ready' ? prev : { state: 'loading' }));
      try {
        const keys = toKeys(await api.list());
        if (!signal?.aborted) setLoad({ state: 'ready', keys });
      } catch (error) {
        if (!signal?.aborted) setLoad({ state: 'error', error });
      }
    },
    [api],
  );

  useEffect(() => {
    const controller = new AbortController();
    void refresh(controller.signal);
    return () => controller.abort();
  }, [refresh]);

  return (
    <>
      <p className="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
      {unshown ? (
        <UnshownKeyPanel
          apiKey={unshown}
          onKeep={dismissUnshown}
          onRevoke={async () => {
            await api.revoke(unshown.id);
            setAnnouncement(`Key ${unshown.name} revoked.`);
            dismissUnshown();
            void refresh();
          }}
        />
      ) : null}
      {created ? (
        <NewKeyPanel
          created={created}
          onDone={() => {
            setCreated(null);
            setAnnouncement('The new key is hidden now.');
          }}
        />
      ) : null}
      <CreateKeyForm
        disabled={false}
        onCreate={async (name, options) => {
          noteCreating(name);
          let result;
          try {
            result = toNewKey(await api.create(name, options));
          } catch (err) {
            // An answer means no key; without one, the list tells (after a reload too).
            if (typeof (err as { status?: unknown })?.status === 'number') creationSettled();
            else {
              setUnfinished(unfinishedCreation());
              void refresh();
            }
            throw err;
          }
          setCreated(result);
          creationSettled();
          setAnnouncement(`Key ${result.name} created. Copy it now: it is shown only once.`);
          // Show the new row at once; the list reloads behind it. The row
          // never holds the plaintext key.
          const { key: _plaintext, ...record } = result;
          setLoad((prev) =>
            prev.state === 'ready' && !prev.keys.some((k) => k.id === record.id)
              ? { state: 'ready', keys: [record, ...prev.keys] }
              : prev,
          );
          void refresh();
        }}
      />
      <section aria-labelledby="keys-heading" className="panel">
        <h2 id="keys-heading" ref={keysHeadingRef} tabIndex={-1}>
          Your API keys
        </h2>
        <KeyList
          load={load}
          onRetry={() => void refresh()}
          onRevoke={async (key) => {
            await api.revoke(key.id);
            setAnnouncement(`Key ${key.name} revoked.`);
            if (created?.id === key.id) setCreated(null);
            // The row, and the button that had focus, go away.
            setLoad((prev) => (prev.state === 'ready' ? { state: 'ready', keys: prev.keys.filter((k) => k.id !== key.id) } : prev));
            keysHeadingRef.current?.focus();
            void refresh();
          }}
          onRotate={async (key, gracePeriodSeconds) => {
            const result = toNewKey(await api.rotate(key.id, { gracePeriodSeconds }));
            setCreated(result);
            setAnnouncement(`Key ${key.name} rotated. Copy the new key now: it is shown only once.`);
            void refresh();
          }}
        />
      </section>
    </>
  );
}

function NewKeyPanel({ created, onDone }: { created: NewKey; onDone: () => void }) {
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  const fieldRef = useRef<HTMLInputElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('copied');
    } catch {
      // No clipboard permission (or an insecure origin): select the text so
      // the user can copy it by hand.
      fieldRef.current?.select();
      setCopied('failed');
    }
  }

  return (
    <section aria-labelledby="new-key-heading" className="panel new-key" data-testid="new-key">
      <h2 id="new-key-heading" ref={headingRef} tabIndex={-1}>
        New key “{created.name}”
      </h2>
      <p className="warning">
        <strong>Copy this key now.</strong> It is shown only once: the server keeps only a hash of it. Anyone with the key can
        call the agent API as you.
      </p>
      <div className="copy-row">
        <label htmlFor="new-key-value" className="sr-only">
          API key
        </label>
        <input
          ref={fieldRef}
          id="new-key-value"
          className="secret"
          readOnly
          value={created.key}
          data-testid="created-key"
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" className="button primary" onClick={copy}>
          Copy
        </button>
      </div>
      <p role="status" aria-live="polite" className="hint">
        {copied === 'copied' ? 'Copied to the clipboard.' : copied === 'failed' ? 'Copying is blocked here: the key is selected, press Ctrl+C (⌘C).' : ''}
      </p>
      <button type="button" className="button" onClick={onDone}>
        I have stored it
      </button>
    </section>
  );
}

type KeyActions = {
  onRevoke: (key: ApiKey) => Promise<void>;
  onRotate: (key: ApiKey, gracePeriodSeconds: number) => Promise<void>;
};

function KeyList({ load, onRetry, ...actions }: { load: Load; onRetry: () => void } & KeyActions) {
  if (load.state === 'loading') {
    return (
      <p className="muted" role="status" aria-busy="true">
        <span className="spinner" aria-hidden="true" /> Loading keys…
      </p>
    );
  }
  if (load.state === 'error') {
    return <CallError error={load.error} action="load your keys" onRetry={onRetry} />;
  }
  if (load.keys.length === 0) {
    return (
      <p className="empty" data-testid="no-keys">
        No API keys yet. Create one above to let an agent call <code>/agent/v1/*</code> as you.
      </p>
    );
  }
  return (
    <div className="table-wrap">
      <table className="keys">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key</th>
            <th scope="col">Scopes</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {load.keys.map((key) => (
            <KeyRow key={key.id} apiKey={key} {...actions} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A step under a key's row that asks before acting; Escape or Cancel closes it. */
function ConfirmStep(props: {
  label: string;
  /** The confirm button's class, text, and text while busy. */
  action: [string, string, string];
  confirmRef?: Ref<HTMLButtonElement>;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  children: ReactNode;
}) {
  const { label, action, confirmRef, busy, onConfirm, onCancel, children } = props;
  return (
    <div
      className="confirm"
      role="group"
      aria-label={label}
      onKeyDown={(e) => {
        if (e.key === 'Escape') onCancel();
      }}
    >
      {children}
      <button ref={confirmRef} type="button" className={action[0]} disabled={busy} aria-busy={busy} onClick={onConfirm}>
        {busy ? action[2] : action[1]}
      </button>
      <button type="button" className="button" disabled={busy} onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

function KeyRow({ apiKey, onRevoke, onRotate }: { apiKey: ApiKey } & KeyActions) {
  // Which confirmation step is open under the row, if any.
  const [step, setStep] = useState<'revoke' | 'rotate' | null>(null);
  const confirming = step === 'revoke';
  const [grace, setGrace] = useState(GRACE_CHOICES[0].seconds);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const graceRef = useRef<HTMLSelectElement>(null);
  const revokeRef = useRef<HTMLButtonElement>(null);
  const rotateRef = useRef<HTMLButtonElement>(null);
  const opened = useRef<typeof step>(null);
  const graceId = useId();
  const expired = apiKey.expires !== undefined && apiKey.expires.getTime() <= Date.now();
  useEffect(() => {
    // Focus follows the step: into it when it opens, back to the button
    // that opened it when it is cancelled.
    if (step === 'revoke') confirmRef.current?.focus();
    else if (step === 'rotate') graceRef.current?.focus();
    else if (opened.current === 'revoke') revokeRef.current?.focus();
    else if (opened.current === 'rotate') rotateRef.current?.focus();
    opened.current = step;
  }, [step]);
  const cancel = () => {
    if (busy) return;
    setStep(null);
    setError(null);
  };
  const run = async (action: () => Promise<void>, after?: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      after?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <tr data-testid="key-row" data-key-name={apiKey.name}>
        <th scope="row">{apiKey.name}</th>
        <td className="nowrap" data-label="Key">
          <code>{apiKey.masked}</code>
        </td>
        <td data-testid="key-scopes" data-label="Scopes">{apiKey.scopes.length ? apiKey.scopes.map((s) => <code key={s}>{s} </code>) : <span className="muted">none</span>}</td>
        <td className="date" data-label="Created">
          <time dateTime={apiKey.created?.toISOString()}>{formatDate(apiKey.created)}</time>
        </td>
        <td className="date" data-testid="key-expires" data-label="Expires">
          {apiKey.expires ? (
            <time dateTime={apiKey.expires.toISOString()}>{expired ? `Expired ${formatDate(apiKey.expires)}` : formatDate(apiKey.expires)}</time>
          ) : (
            'Never'
          )}
        </td>
        <td className="date" data-testid="key-last-used" data-label="Last used">
          {apiKey.lastUsed ? <time dateTime={apiKey.lastUsed.toISOString()}>{formatDate(apiKey.lastUsed)}</time> : 'Never'}
        </td>
        <td className="row-actions">
          <button
            ref={rotateRef}
            type="button"
            className="button"
            onClick={() => setStep('rotate')}
            disabled={step !== null || expired}
            aria-expanded={step === 'rotate'}
            aria-label={`Rotate ${apiKey.name}`}
          >
            Rotate
          </button>
          <button
            ref={revokeRef}
            type="button"
            className="button danger-outline"
            onClick={() => setStep('revoke')}
            disabled={step !== null}
            aria-expanded={confirming}
            aria-label={`Revoke ${apiKey.name}`}
          >
            Revoke
          </button>
        </td>
      </tr>
      {step || error ? (
        <tr className="confirm-row">
          <td colSpan={7}>
            {step === 'rotate' ? (
              <ConfirmStep
                label={`Confirm rotating ${apiKey.name}`}
                action={['button primary', 'Yes, rotate', 'Rotating…']}
                busy={busy}
                onConfirm={() => void run(() => onRotate(apiKey, grace), () => setStep(null))}
                onCancel={cancel}
              >
                <p>
                  Rotate <strong>{apiKey.name}</strong>? A new key with the same name, scopes and expiry is shown once.
                </p>
                <label htmlFor={graceId}>Old key</label>{' '}
                <select id={graceId} ref={graceRef} value={grace} disabled={busy} onChange={(e) => setGrace(Number(e.target.value))}>
                  {GRACE_CHOICES.map((c) => (
                    <option key={c.seconds} value={c.seconds}>
                      {c.label}
                    </option>
                  ))}
                </select>{' '}
              </ConfirmStep>
            ) : null}
            {confirming ? (
              <ConfirmStep
                label={`Confirm revoking ${apiKey.name}`}
                action={['button danger', 'Yes, revoke', 'Revoking…']}
                confirmRef={confirmRef}
                busy={busy}
                onConfirm={() => void run(() => onRevoke(apiKey))}
                onCancel={cancel}
              >
                <p>
                  Revoke <strong>{apiKey.name}</strong>? Agents using it get 401 from the next request on.
                </p>
              </ConfirmStep>
            ) : null}
            {error ? <CallError error={error} action={step === 'rotate' ? 'rotate the key' : 'revoke the key'} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
