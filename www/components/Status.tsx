import type { ReactNode } from 'react';

// Messages that appear after an action: announced by screen readers
// (role=status is polite, role=alert interrupts for errors).
export function Status({ tone, children }: { tone: 'info' | 'error' | 'success'; children: ReactNode }) {
  return (
    <div className={`status status-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}
