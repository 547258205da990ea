import Link from 'next/link';

export default function Home() {
  return (
    <>
      <h1>mesh-sdk demo</h1>
      <p className="lead">
        A Next.js app that uses the <code>mesh-sdk</code> package the way your app would: device-code sign-in against an
        OpenID Provider, then API keys managed through the edge gateway.
      </p>
      <div className="cards">
        <Link href="/login" className="card">
          <h2>Sign in</h2>
          <p>Start a device-code login, approve it on the provider&apos;s page, and watch the access token refresh.</p>
        </Link>
        <Link href="/settings" className="card">
          <h2>API keys</h2>
          <p>List, create and revoke the keys agents use to call <code>/agent/v1/*</code> as you.</p>
        </Link>
      </div>
    </>
  );
}
