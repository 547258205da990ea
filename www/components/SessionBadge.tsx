// Who is signed in, as the server read it (the layout's auth()).
export function SessionBadge({ userName }: { userName: string | null }) {
  if (userName === null) return <span className="badge badge-muted">Signed out</span>;
  return (
    <span className="badge badge-ok" title="Signed in">
      <span aria-hidden="true">●</span> {userName}
    </span>
  );
}
