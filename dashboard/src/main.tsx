/** The dashboard's entry: sign-in, the layout (navigation, tenant switcher) and the routes of its pages. */
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Link, Route, Router, Switch, useLocation } from 'wouter-preact';
import { apiClient } from './api.ts';
import { DevicesPage, ProfilesPage, TemplatesPage, TopicsPage } from './pages/audience.tsx';
import { ComposePage } from './pages/compose.tsx';
import { DeadLettersPage } from './pages/dead-letters.tsx';
import { DevicePage } from './pages/device.tsx';
import { LivePage } from './pages/live.tsx';
import { NotificationPage } from './pages/notification.tsx';
import { NotificationsPage } from './pages/notifications.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { SandboxPage } from './pages/sandbox.tsx';
import { SchedulesPage } from './pages/schedules.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { WebhooksPage } from './pages/webhooks.tsx';
import { allSessions, type Credentials, currentSession, signOut, switchTo } from './session.ts';
import { Page, type Signed, SignedContext } from './ui.tsx';

const NAV: Array<{ href: string; label: string; sandbox?: boolean }> = [
  { href: '/', label: 'Overview' },
  { href: '/compose', label: 'Compose' },
  { href: '/notifications', label: 'Notifications' },
  { href: '/live', label: 'Live' },
  { href: '/sandbox', label: 'Sandbox inbox', sandbox: true },
  { href: '/devices', label: 'Devices' },
  { href: '/profiles', label: 'Profiles' },
  { href: '/topics', label: 'Topics' },
  { href: '/templates', label: 'Templates' },
  { href: '/schedules', label: 'Schedules' },
  { href: '/dead-letters', label: 'Dead letters' },
  { href: '/webhooks', label: 'Webhooks' },
  { href: '/settings', label: 'Settings' },
];

function Layout({ signed, onChange }: { signed: Signed; onChange: () => void }) {
  const [location] = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const main = useRef<HTMLElement>(null);
  const sessions = allSessions();
  // A new page moves focus to its heading, so keyboard and screen-reader users land on the content.
  useEffect(() => {
    setMenuOpen(false);
    main.current?.querySelector('h1')?.focus();
  }, [location]);
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">fcm-server</span>
        <button
          type="button"
          class="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <div class="who">
          <label>
            <span class="visually-hidden">Tenant</span>
            <select
              aria-label="Tenant"
              value={signed.credentials.clientId}
              onChange={(event) => {
                const value = event.currentTarget.value;
                // '+': no current sign-in (the others stay kept), so the sign-in page shows.
                switchTo(value === '+' ? '' : value);
                onChange();
              }}
            >
              {sessions.map((s) => (
                <option key={s.clientId} value={s.clientId}>
                  {s.name}
                </option>
              ))}
              <option value="+">Sign in to another tenant…</option>
            </select>
          </label>
          <button
            type="button"
            onClick={() => {
              signOut();
              onChange();
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <nav id="nav" class={menuOpen ? 'nav open' : 'nav'} aria-label="Main">
        <ul>
          {NAV.filter((item) => !item.sandbox || signed.sandbox).map((item) => (
            <li key={item.href}>
              <Link
                href={item.href}
                aria-current={
                  location === item.href || (item.href !== '/' && location.startsWith(item.href))
                    ? 'page'
                    : undefined
                }
              >
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main}>
        <Switch>
          <Route path="/" component={OverviewPage} />
          <Route path="/compose" component={ComposePage} />
          <Route path="/notifications" component={NotificationsPage} />
          <Route path="/notifications/:id">{(params) => <NotificationPage id={params.id} />}</Route>
          <Route path="/live" component={LivePage} />
          <Route path="/sandbox" component={SandboxPage} />
          <Route path="/devices" component={DevicesPage} />
          <Route path="/devices/:id">{(params) => <DevicePage id={params.id} />}</Route>
          <Route path="/profiles" component={ProfilesPage} />
          <Route path="/topics" component={TopicsPage} />
          <Route path="/templates" component={TemplatesPage} />
          <Route path="/schedules" component={SchedulesPage} />
          <Route path="/dead-letters" component={DeadLettersPage} />
          <Route path="/webhooks" component={WebhooksPage} />
          <Route path="/settings" component={SettingsPage} />
          <Route>
            <Page title="Not found">
              <p>
                No such page. <Link href="/">Back to the overview</Link>
              </p>
            </Page>
          </Route>
        </Switch>
      </main>
    </div>
  );
}

/** Whether the server has the sandbox route: a 404 means not (production or an external FCM endpoint). */
async function probeSandbox(credentials: Credentials): Promise<boolean> {
  const { response } = await apiClient(credentials).GET('/api/v1/sandbox/messages', {
    params: { query: { limit: 1 } },
  });
  return response.ok;
}

function App() {
  const [round, setRound] = useState(0);
  const credentials = useMemo(() => currentSession(), [round]);
  const [sandbox, setSandbox] = useState(false);
  useEffect(() => {
    if (credentials) probeSandbox(credentials).then(setSandbox, () => setSandbox(false));
  }, [credentials]);
  const signed = useMemo<Signed | undefined>(
    () => credentials && { credentials, api: apiClient(credentials), sandbox },
    [credentials, sandbox],
  );
  const refresh = () => setRound((n) => n + 1);
  if (!signed) return <SignInPage onSignedIn={refresh} />;
  return (
    <SignedContext.Provider value={signed}>
      {/* Keyed by tenant: a switch remounts every page, so nothing of the previous tenant stays on screen. */}
      <Layout key={signed.credentials.clientId} signed={signed} onChange={refresh} />
    </SignedContext.Provider>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(
    <Router base="/dashboard">
      <App />
    </Router>,
    root,
  );
}
