'use client';
import Link from 'next/link';
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { Status } from '@/components/Status';
import { errorKind, errorMessage } from '@/lib/errors';
import { toKeys, toNewKey } from '@/lib/keys';
import type { ApiKey, NewKey } from '@/lib/keys';
import { useMesh } from '@/lib/mesh';

type Load =
  | { state: 'loading' }
  | { state: 'ready'; keys: ApiKey[] }
  | { state: 'error'; error: unknown };

const MAX_NAME = 100;

function validateName(raw: string): string | undefined {
  const name = raw.trim();
  if (!name) return 'Give the key a name, such as the agent or machine that will use it.';
  if (name.length > MAX_NAME) return `Use at most ${MAX_NAME} characters (this one has ${name.length}).`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'Use letters, digits, spaces and punctuation only.';
  return undefined;
}

function formatCreated(created: Date | undefined): string {
  if (!created) return '—';
  return created.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** An inline error that says what to do next. */
function CallError({ error, action, onRetry }: { error: unknown; action: string; onRetry?: () => void }) {
  const { config } = useMesh();
  const kind = errorKind(error);
  return (
    <Status tone="error">
      {kind === 'session' ? (
        <>
          Could not {action}: your session has expired or you are signed out. <Link href="/login">Sign in again</Link>.
        </>
      ) : kind === 'network' ? (
        <>
          Could not {action}: the API at <code>{config.apiUrl}</code> did not answer. Check your connection and that the
          gateway is running.
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

export function SettingsView() {
  const { client, session } = useMesh();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [created, setCreated] = useState<NewKey | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const keysHeadingRef = useRef<HTMLHeadingElement>(null);
  const api = client.status === 'ready' ? client.client : undefined;

  const refresh = useCallback(
    async (signal?: AbortSignal) => {
      if (!api) return;
      setLoad((prev) => (prev.state === 'ready' ? prev : { state: 'loading' }));
      try {
        const keys = toKeys(await api.keys.list());
        if (!signal?.aborted) setLoad({ state: 'ready', keys });
      } catch (error) {
        if (!signal?.aborted) setLoad({ state: 'error', error });
      }
    },
    [api],
  );

  useEffect(() => {
    if (!api || session.status === 'unknown') return;
    const controller = new AbortController();
    void refresh(controller.signal);
    return () => controller.abort();
  }, [api, session.status, refresh]);

  if (client.status === 'error') {
    return <Status tone="error">The mesh-sdk client failed to load: {client.message}. Reload the page to try again.</Status>;
  }

  if (session.status === 'signedOut') {
    return (
      <section className="panel">
        <h2>Sign in to manage API keys</h2>
        <p>{session.notice ?? 'API keys belong to a signed-in user.'}</p>
        <Link href="/login" className="button primary">
          Sign in
        </Link>
      </section>
    );
  }

  return (
    <>
      <p className="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
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
        disabled={!api}
        onCreate={async (name) => {
          const result = toNewKey(await api!.keys.create(name));
          setCreated(result);
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
            await api!.keys.revoke(key.id);
            setAnnouncement(`Key ${key.name} revoked.`);
            if (created?.id === key.id) setCreated(null);
            // The row, and the button that had focus, go away.
            setLoad((prev) => (prev.state === 'ready' ? { state: 'ready', keys: prev.keys.filter((k) => k.id !== key.id) } : prev));
            keysHeadingRef.current?.focus();
            void refresh();
          }}
        />
      </section>
    </>
  );
}

function CreateKeyForm({ disabled, onCreate }: { disabled: boolean; onCreate: (name: string) => Promise<void> }) {
  const [name, setName] = useState('');
  const [invalid, setInvalid] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const id = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const problem = validateName(name);
    setInvalid(problem);
    setError(null);
    if (problem) {
      inputRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      await onCreate(name.trim());
      setName('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby={`${id}-heading`} className="panel">
      <h2 id={`${id}-heading`}>Create a key</h2>
      <form onSubmit={submit} noValidate className="create-form">
        <div className="field">
          <label htmlFor={`${id}-name`}>Key name</label>
          <input
            ref={inputRef}
            id={`${id}-name`}
            name="name"
            type="text"
            autoComplete="off"
            placeholder="e.g. ci-agent"
            required
            maxLength={MAX_NAME + 20}
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              if (invalid) setInvalid(validateName(e.target.value));
            }}
            aria-invalid={invalid ? true : undefined}
            aria-describedby={`${id}-hint${invalid ? ` ${id}-error` : ''}`}
          />
          <p id={`${id}-hint`} className="hint">
            1–{MAX_NAME} characters. Name it after what will use it.
          </p>
          {invalid ? (
            <p id={`${id}-error`} className="field-error" role="alert">
              {invalid}
            </p>
          ) : null}
        </div>
        <button type="submit" className="button primary" disabled={disabled || busy} aria-busy={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      {error ? <CallError error={error} action="create the key" /> : null}
    </section>
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

function KeyList({
  load,
  onRetry,
  onRevoke,
}: {
  load: Load;
  onRetry: () => void;
  onRevoke: (key: ApiKey) => Promise<void>;
}) {
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
            <th scope="col">Created</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {load.keys.map((key) => (
            <KeyRow key={key.id} apiKey={key} onRevoke={onRevoke} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function KeyRow({ apiKey, onRevoke }: { apiKey: ApiKey; onRevoke: (key: ApiKey) => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const revokeRef = useRef<HTMLButtonElement>(null);
  const opened = useRef(false);
  useEffect(() => {
    // Focus follows the step: to "Yes, revoke" when it opens, back to
    // "Revoke" when it is cancelled.
    if (confirming) confirmRef.current?.focus();
    else if (opened.current) revokeRef.current?.focus();
    opened.current = confirming;
  }, [confirming]);

  return (
    <>
      <tr data-testid="key-row" data-key-name={apiKey.name}>
        <th scope="row">{apiKey.name}</th>
        <td className="nowrap">
          <code>{apiKey.masked}</code>
        </td>
        <td className="nowrap">
          <time dateTime={apiKey.created?.toISOString()}>{formatCreated(apiKey.created)}</time>
        </td>
        <td className="row-actions">
          <button
            ref={revokeRef}
            type="button"
            className="button danger-outline"
            onClick={() => setConfirming(true)}
            disabled={confirming}
            aria-expanded={confirming}
            aria-label={`Revoke ${apiKey.name}`}
          >
            Revoke
          </button>
        </td>
      </tr>
      {confirming || error ? (
        <tr className="confirm-row">
          <td colSpan={4}>
            {confirming ? (
              <div
                className="confirm"
                role="group"
                aria-label={`Confirm revoking ${apiKey.name}`}
                onKeyDown={(e) => {
                  if (e.key === 'Escape' && !busy) {
                    setConfirming(false);
                    setError(null);
                  }
                }}
              >
                <p>
                  Revoke <strong>{apiKey.name}</strong>? Agents using it get 401 from the next request on.
                </p>
                <button
                  ref={confirmRef}
                  type="button"
                  className="button danger"
                  disabled={busy}
                  aria-busy={busy}
                  onClick={async () => {
                    setBusy(true);
                    setError(null);
                    try {
                      await onRevoke(apiKey);
                    } catch (err) {
                      setError(err);
                      setBusy(false);
                    }
                  }}
                >
                  {busy ? 'Revoking…' : 'Yes, revoke'}
                </button>
                <button
                  type="button"
                  className="button"
                  disabled={busy}
                  onClick={() => {
                    setConfirming(false);
                    setError(null);
                  }}
                >
                  Cancel
                </button>
              </div>
            ) : null}
            {error ? <CallError error={error} action="revoke the key" /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
