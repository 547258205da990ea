import type { Metadata } from 'next';
import { SettingsView } from './SettingsView';

export const metadata: Metadata = { title: 'API keys' };

export default function SettingsPage() {
  return (
    <>
      <h1>API keys</h1>
      <p className="lead">
        Agents send a key to <code>/agent/v1/*</code> on the gateway, which calls the API as you. Keys work until you revoke
        them, or until the expiry you give them; a key can carry scopes, but only ones you hold.
      </p>
      <SettingsView />
    </>
  );
}
