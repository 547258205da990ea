import type { Metadata } from 'next';
import { LoginHeading } from './LoginHeading';
import { LoginView } from './LoginView';

export const metadata: Metadata = { title: 'Sign in' };

export default function LoginPage() {
  return (
    <>
      <LoginHeading />
      <LoginView />
    </>
  );
}
