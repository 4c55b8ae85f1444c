/**
 * Sign-ins live in sessionStorage only (never a URL, a cookie or localStorage): they last as long as the tab,
 * and each tab signs in on its own. Several sign-ins may be kept, one per tenant, to switch between them: a
 * tenant is an API client, and the API lets no client act as another, admin included.
 */
export interface Credentials {
  clientId: string;
  token: string;
  /** The client's name, from GET /api/v1/clients/me at sign-in. */
  name: string;
  scopes: string[];
}

const KEY = 'fcms.dashboard.sessions';

interface Stored {
  current: string | undefined;
  sessions: Credentials[];
}

function read(): Stored {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Stored | null;
    if (parsed && Array.isArray(parsed.sessions)) return parsed;
  } catch {
    // A damaged entry is a signed-out tab.
  }
  return { current: undefined, sessions: [] };
}

function write(stored: Stored): void {
  sessionStorage.setItem(KEY, JSON.stringify(stored));
}

export function currentSession(): Credentials | undefined {
  const stored = read();
  return stored.sessions.find((s) => s.clientId === stored.current);
}

export function allSessions(): Credentials[] {
  return read().sessions;
}

export function signIn(credentials: Credentials): void {
  const stored = read();
  write({
    current: credentials.clientId,
    sessions: [...stored.sessions.filter((s) => s.clientId !== credentials.clientId), credentials],
  });
}

export function switchTo(clientId: string): void {
  write({ ...read(), current: clientId });
}

/** Forgets the current sign-in; another kept one becomes current. */
export function signOut(): void {
  const stored = read();
  const sessions = stored.sessions.filter((s) => s.clientId !== stored.current);
  write({ current: sessions[0]?.clientId, sessions });
}
