import type { Metadata } from 'next';
import Link from 'next/link';
import { Status } from '@/components/Status';
import { currentSession } from '@/lib/auth';
import type { ShownSession } from '@/lib/auth';
import { DeviceLogin } from './DeviceLogin';
import { TokenExpiry } from './TokenExpiry';

export const metadata: Metadata = { title: 'Sign in' };

// Where the provider's sign-out page sends the browser back (registered with the provider).
const AFTER_SIGN_OUT = '/login?signedOut=1';

type Params = Record<string, string | string[] | undefined>;

/** `returnTo` when it is a path of this app, else /login. */
function returnPath(value: string | string[] | undefined): string {
  const path = typeof value === 'string' ? value : '';
  return path.startsWith('/') && !path.startsWith('//') && !path.startsWith('/\\') && !/[\u0000-\u001f]/.test(path) ? path : '/login';
}

/** Why the redirect login came back without a session (/auth/callback sends the code here). */
function failedText(code: string): string {
  switch (code) {
    case 'state_mismatch':
      return 'That sign-in link was already used, or was already completed. Sign in again if you need to.';
    case 'access_denied':
      return 'The sign-in was denied on the provider’s page.';
    case 'network':
    case 'timeout':
      return 'The sign-in provider could not be reached. Try again.';
    default:
      return `The sign-in did not complete (${code}). Try again.`;
  }
}

export default async function LoginPage({ searchParams }: { searchParams: Promise<Params> }) {
  const params = await searchParams;
  const session = await currentSession();
  const failed = typeof params.failed === 'string' ? failedText(params.failed) : undefined;
  if (session) {
    return (
      <>
        <h1>Your session</h1>
        {failed ? <Status tone="info">{failed}</Status> : null}
        <SignedIn session={session} />
      </>
    );
  }
  const returnTo = returnPath(params.returnTo);
  return (
    <>
      <h1>Sign in</h1>
      {failed ? <Status tone="error">{failed}</Status> : params.signedOut !== undefined ? <Status tone="info">You are signed out.</Status> : null}
      <section aria-labelledby="redirect-heading" className="panel">
        <h2 id="redirect-heading">Sign in with your account</h2>
        <p>The provider’s sign-in page opens in this tab and sends you back here.</p>
        <form method="get" action="/auth/login">
          <input type="hidden" name="returnTo" value={returnTo} />
          <button type="submit" className="button primary">
            Sign in
          </button>
        </form>
      </section>
      <DeviceLogin returnTo={returnTo} />
    </>
  );
}

function SignedIn({ session }: { session: ShownSession }) {
  return (
    <section aria-labelledby="signed-in-heading" className="panel">
      <h2 id="signed-in-heading">
        Signed in as <span data-testid="user-name">{session.userName ?? 'unknown user'}</span>
      </h2>
      <dl className="facts">
        <dt>User id</dt>
        <dd>
          <code data-testid="user-id">{session.userId ?? 'unknown'}</code>
        </dd>
        <dt>Access token</dt>
        <dd data-testid="token-expiry">
          <TokenExpiry expiresAt={session.expiresAt} />
        </dd>
        <dt>Where the tokens are</dt>
        <dd>On the server, in a sealed httpOnly cookie: this page’s JavaScript never sees them.</dd>
      </dl>
      <div className="actions">
        <Link href="/settings" className="button primary">
          Manage API keys
        </Link>
        {/* A POST from this origin: a link or an image elsewhere cannot sign you out. */}
        <form method="post" action={`/auth/logout?returnTo=${encodeURIComponent(AFTER_SIGN_OUT)}`}>
          <button type="submit" className="button">
            Sign out
          </button>
        </form>
      </div>
    </section>
  );
}
