// A key whose creation the page did not see end: the request went out, then
// the page was reloaded (or closed) before the answer, so its secret, shown
// only once, was never shown. The page notes each creation in this tab's
// sessionStorage until the answer arrives; after a reload, a key of that name
// created since then is one nobody has seen.
import type { ApiKey } from './keys';

const STORAGE_KEY = 'mesh-demo.creating-key';
// The gateway's clock and this browser's may differ by this much.
const CLOCK_SLACK_MS = 5 * 60_000;

interface Creating {
  name: string;
  at: number;
}

function tab(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined; // storage off: the page only loses this hint
  }
}

export function noteCreating(name: string): void {
  try {
    tab()?.setItem(STORAGE_KEY, JSON.stringify({ name, at: Date.now() } satisfies Creating));
  } catch {}
}

export function creationSettled(): void {
  try {
    tab()?.removeItem(STORAGE_KEY);
  } catch {}
}

/** The creation a previous page load left unfinished, if any. */
export function unfinishedCreation(): Creating | null {
  try {
    const value: unknown = JSON.parse(tab()?.getItem(STORAGE_KEY) ?? 'null');
    const c = value as Partial<Creating> | null;
    return c && typeof c.name === 'string' && typeof c.at === 'number' ? { name: c.name, at: c.at } : null;
  } catch {
    return null;
  }
}

/** The key that creation made, among the user's keys, or null if it never was. */
export function unshownKey(creating: Creating, keys: readonly ApiKey[]): ApiKey | null {
  const made = keys.filter((k) => k.name === creating.name && (k.created?.getTime() ?? 0) >= creating.at - CLOCK_SLACK_MS);
  return made.sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0))[0] ?? null;
}
