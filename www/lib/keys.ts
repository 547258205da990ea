// Shapes mesh-sdk's API-key records for display.
import type { ApiKey as MeshApiKey, CreatedApiKey } from 'mesh-sdk';

export interface ApiKey {
  id: string;
  name: string;
  /** "mesh_sk_…abcd": enough to recognise a key, never enough to use it. */
  masked: string;
  created: Date | undefined;
  /** Scope tokens; empty for a key with none. */
  scopes: readonly string[];
  /** When it stops working; undefined for never. */
  expires: Date | undefined;
  /** When it was last used (written back at most once a minute); undefined for never. */
  lastUsed: Date | undefined;
}

export interface NewKey extends ApiKey {
  /** The plaintext key, shown exactly once. */
  key: string;
}

function toDate(iso: string | null | undefined): Date | undefined {
  const date = iso ? new Date(iso) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

function toKey(record: MeshApiKey): ApiKey {
  return {
    id: record.id,
    name: record.name,
    masked: `${record.prefix ?? ''}…${record.last4 ?? ''}`,
    created: toDate(record.createdAt),
    scopes: Array.isArray(record.scopes) ? record.scopes : [],
    expires: toDate(record.expiresAt),
    lastUsed: toDate(record.lastUsedAt),
  };
}

/** The scopes typed in the form: space-separated, as in an OAuth `scope`. */
export function parseScopes(raw: string): string[] {
  return raw.split(/\s+/).filter(Boolean);
}

/** Newest first. */
export function toKeys(records: readonly MeshApiKey[]): ApiKey[] {
  return records.map(toKey).sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0));
}

export function toNewKey(created: CreatedApiKey): NewKey {
  return { ...toKey(created), key: created.key };
}
