/** Sign-in with an API client's id and token, checked against GET /api/v1/clients/me before it is kept. */
import { useState } from 'preact/hooks';
import { apiClient, call } from '../api.ts';
import { allSessions, type Credentials, signIn, switchTo } from '../session.ts';
import { ErrorBox, useAction } from '../ui.tsx';

async function whoIs(clientId: string, token: string): Promise<Credentials> {
  const me = await call(apiClient({ clientId, token, name: '', scopes: [] }).GET('/api/v1/clients/me'));
  return { clientId, token, name: me.name, scopes: me.scopes };
}

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [clientId, setClientId] = useState('');
  const [token, setToken] = useState('');
  const [action, run] = useAction();
  const kept = allSessions();
  return (
    <main class="sign-in" id="main">
      <h1>Sign in to fcm-server</h1>
      <p>
        Use an API client's id and token. The dashboard calls the public API with them and sees exactly what
        that client sees; they stay in this tab only (session storage).
      </p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            signIn(await whoIs(clientId.trim(), token.trim()));
            onSignedIn();
          });
        }}
      >
        <label>
          Client ID
          <input
            name="client-id"
            value={clientId}
            required
            autoComplete="username"
            spellcheck={false}
            onInput={(e) => setClientId(e.currentTarget.value)}
          />
        </label>
        <label>
          Client token
          <input
            name="client-token"
            type="password"
            value={token}
            required
            autoComplete="current-password"
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
        {action.error && <ErrorBox error={action.error} />}
      </form>
      {kept.length > 0 && (
        <div>
          <h2>Signed in earlier in this tab</h2>
          <ul class="plain">
            {kept.map((s) => (
              <li key={s.clientId}>
                <button
                  type="button"
                  onClick={() => {
                    switchTo(s.clientId);
                    onSignedIn();
                  }}
                >
                  {s.name}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      {/* Open at first: a new user has no client yet, and this is the one step outside the browser. */}
      <details open={kept.length === 0}>
        <summary>No client yet?</summary>
        <p>
          Create one on the machine running the server, in its directory (with the same <code>DATA_DIR</code>,
          if you set one); the id and token are printed once:
        </p>
        <pre>npx fcm-server create-client --name me</pre>
        <p class="muted">
          Then, in the sandbox: <strong>Sandbox inbox</strong> → <strong>Add an Android test device</strong> →{' '}
          <strong>Compose</strong> → <strong>Send now</strong>, and back to the inbox to see it arrive.
        </p>
      </details>
    </main>
  );
}
