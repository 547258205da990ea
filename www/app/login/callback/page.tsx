import type { Metadata } from 'next';
import { CallbackView } from './CallbackView';

export const metadata: Metadata = { title: 'Signing in' };

// The redirect login's callback: the provider sends the browser here with
// `code` and `state` (or an error); the client checks and completes it.
export default function CallbackPage() {
  return (
    <>
      <h1>Signing in</h1>
      <CallbackView />
    </>
  );
}
