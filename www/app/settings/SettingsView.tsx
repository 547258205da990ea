'use client';
import Link from 'next/link';
import { useCallback, useEffect, useId, useRef, useState } from 'react';
import type { FormEvent, ReactNode, Ref } from 'react';
import { Status } from '@/components/Status';
import { errorCode, errorKind, errorMessage } from '@/lib/errors';
import { parseScopes, toKeys, toNewKey } from '@/lib/keys';
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

function validateExpiry(raw: string): string | undefined {
  if (!raw) return undefined;
  const at = new Date(raw);
  if (Number.isNaN(at.getTime())) return 'Pick a date and time for the key to expire, or leave it empty.';
  if (at.getTime() <= Date.now()) return 'Pick an expiry in the future.';
  return undefined;
}

function formatDate(date: Date | undefined, none = '—'): string {
  if (!date) return none;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** What a new key carries besides its name; the gateway checks it (400 or 403 with why). */
interface KeyOptions {
  scopes: string[];
  expiresAt?: Date;
}

/** How long a rotated-out key keeps working, as the rotate step offers it. */
const GRACE_CHOICES: { label: string; seconds: number }[] = [
  { label: 'Stop the old key at once', seconds: 0 },
  { label: 'Keep the old key for 1 hour', seconds: 3600 },
  { label: 'Keep the old key for 24 hours', seconds: 86400 },
];

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
        onCreate={async (name, options) => {
          const result = toNewKey(await api!.keys.create(name, options));
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
          onRotate={async (key, gracePeriodSeconds) => {
            const result = toNewKey(await api!.keys.rotate(key.id, { gracePeriodSeconds }));
            setCreated(result);
            setAnnouncement(`Key ${key.name} rotated. Copy the new key now: it is shown only once.`);
            void refresh();
          }}
        />
      </section>
    </>
  );
}

function CreateKeyForm({ disabled, onCreate }: { disabled: boolean; onCreate: (name: string, options: KeyOptions) => Promise<void> }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState('');
  const [expires, setExpires] = useState('');
  const [invalid, setInvalid] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const id = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const problem = validateName(name) ?? validateExpiry(expires);
    setInvalid(problem);
    setError(null);
    if (problem) {
      inputRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      // datetime-local is the user's local time; the SDK sends it as UTC.
      const expiresAt = expires ? new Date(expires) : undefined;
      await onCreate(name.trim(), { scopes: parseScopes(scopes), expiresAt });
      setName('');
      setScopes('');
      setExpires('');
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
        <OptionalField
          id={`${id}-scopes`}
          label="Scopes (optional)"
          type="text"
          placeholder="e.g. memories:read memories:write"
          value={scopes}
          onChange={setScopes}
          hint="Separated by spaces. Only scopes you hold yourself; routes that require a scope refuse keys without it."
        />
        <OptionalField
          id={`${id}-expires`}
          label="Expires (optional)"
          type="datetime-local"
          value={expires}
          onChange={setExpires}
          hint="Leave empty for a key that does not expire."
        />
        <button type="submit" className="button primary" disabled={disabled || busy} aria-busy={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      {error && errorCode(error) === 'forbidden' ? (
        <Status tone="error">
          Could not create the key: a key can only carry scopes you hold yourself. Remove the scopes you do not have.
        </Status>
      ) : error ? (
        <CallError error={error} action="create the key" />
      ) : null}
    </section>
  );
}

/** A labelled input with a hint, that the form may leave empty. */
function OptionalField(props: {
  id: string;
  label: string;
  type: 'text' | 'datetime-local';
  placeholder?: string;
  value: string;
  onChange: (value: string) => void;
  hint: string;
}) {
  const { id, label, type, placeholder, value, onChange, hint } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={id}
        type={type}
        autoComplete="off"
        placeholder={placeholder}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={`${id}-hint`}
      />
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
    </div>
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
        <td className="nowrap">
          <code>{apiKey.masked}</code>
        </td>
        <td data-testid="key-scopes">{apiKey.scopes.length ? apiKey.scopes.map((s) => <code key={s}>{s} </code>) : <span className="muted">none</span>}</td>
        <td className="date">
          <time dateTime={apiKey.created?.toISOString()}>{formatDate(apiKey.created)}</time>
        </td>
        <td className="date" data-testid="key-expires">
          {apiKey.expires ? (
            <time dateTime={apiKey.expires.toISOString()}>{expired ? `Expired ${formatDate(apiKey.expires)}` : formatDate(apiKey.expires)}</time>
          ) : (
            'Never'
          )}
        </td>
        <td className="date" data-testid="key-last-used">
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
