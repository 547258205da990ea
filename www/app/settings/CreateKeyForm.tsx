'use client';
import { useId, useRef, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { Status } from '@/components/Status';
import { errorCode } from '@/lib/errors';
import { parseScopes } from '@/lib/keys';
import { CallError } from './CallError';

/** What a new key carries besides its name; the gateway checks it (400 or 403 with why). */
export interface KeyOptions {
  scopes: string[];
  expiresAt?: Date;
}

/**
 * Only the empty name is caught here; the name's rule (characters are code
 * points, so an emoji counts once) is the gateway's, and its 400 says why.
 */
function nameProblem(name: string): string | undefined {
  return name.trim() === '' ? 'Give the key a name, such as the agent or machine that will use it.' : undefined;
}

function validateExpiry(raw: string): string | undefined {
  if (!raw) return undefined;
  const at = new Date(raw);
  if (Number.isNaN(at.getTime())) return 'Pick a date and time for the key to expire, or leave it empty.';
  if (at.getTime() <= Date.now()) return 'Pick an expiry in the future.';
  return undefined;
}

export function CreateKeyForm({
  disabled,
  onCreate,
}: {
  disabled: boolean;
  onCreate: (name: string, options: KeyOptions) => Promise<void>;
}) {
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
    const problem = nameProblem(name) ?? validateExpiry(expires);
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
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              if (invalid) setInvalid(nameProblem(e.target.value));
            }}
            aria-invalid={invalid ? true : undefined}
            aria-describedby={`${id}-hint${invalid ? ` ${id}-error` : ''}`}
          />
          <p id={`${id}-hint`} className="hint">
            A short name after what will use it.
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
