// Shapes mesh-sdk's API-key records for display.
import type { ApiKey as MeshApiKey, CreatedApiKey } from 'mesh-sdk';

export interface ApiKey {
  id: string;
  name: string;
  /** "mesh_sk_…abcd": enough to recognise a key, never enough to use it. */
  masked: string;
  created: Date | undefined;
}

export interface NewKey extends ApiKey {
  /** The plaintext key, shown exactly once. */
  key: string;
}

function toKey(record: MeshApiKey): ApiKey {
  const created = record.createdAt ? new Date(record.createdAt) : undefined;
  return {
    id: record.id,
    name: record.name,
    masked: `${record.prefix ?? ''}…${record.last4 ?? ''}`,
    created: created && !Number.isNaN(created.getTime()) ? created : undefined,
  };
}

/** Newest first. */
export function toKeys(records: readonly MeshApiKey[]): ApiKey[] {
  return records.map(toKey).sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0));
}

export function toNewKey(created: CreatedApiKey): NewKey {
  return { ...toKey(created), key: created.key };
}
