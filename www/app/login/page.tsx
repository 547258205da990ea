import type { Metadata } from 'next';
import { LoginView } from './LoginView';

export const metadata: Metadata = { title: 'Sign in' };

export default function LoginPage() {
  return (
    <>
      <h1>Sign in</h1>
      <LoginView />
    </>
  );
}
