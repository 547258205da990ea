import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { currentSession } from '@/lib/auth';
import { SettingsView } from './SettingsView';

export const metadata: Metadata = { title: 'API keys' };

// The user is read on the server (auth()); the keys go through the app's
// route handlers, which call the gateway with the server-held token.
export default async function SettingsPage() {
  const session = await currentSession();
  if (!session) redirect(`/login?returnTo=${encodeURIComponent('/settings')}`);
  return (
    <>
      <h1>API keys</h1>
      <p className="lead">
        Agents send a key to <code>/agent/v1/*</code> on the gateway, which calls the API as you. Keys work until you revoke
        them, or until the expiry you give them; a key can carry scopes, but only ones you hold.
      </p>
      <p className="muted" data-testid="settings-user">
        Signed in as {session.userName ?? 'unknown user'}.
      </p>
      <SettingsView />
    </>
  );
}
