import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARIABLES, loadConfig, parseEncryptionKey } from './index.ts';

describe('secrets from files (<NAME>_FILE)', () => {
  it('reads a secret from the file named by <NAME>_FILE, and refuses both or an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcm-secret-'));
    const file = join(dir, 'encryption_key');
    writeFileSync(file, `${key}\n`);
    const config = loadConfig({ ENCRYPTION_KEY_FILE: file });
    expect(config.encryptionKey?.equals(parseEncryptionKey(key))).toBe(true);
    expect(() => loadConfig({ ENCRYPTION_KEY_FILE: file, ENCRYPTION_KEY: key })).toThrow(/not both/);
    expect(() => loadConfig({ ENCRYPTION_KEY_FILE: join(dir, 'missing') })).toThrow(
      /ENCRYPTION_KEY_FILE: cannot read/,
    );
  });
});

describe('.env.example', () => {
  it('documents every variable the server reads (set or commented out)', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const undocumented = ENV_VARIABLES.filter((name) => !new RegExp(`^#?\\s*${name}=`, 'm').test(text));
    expect(undocumented).toEqual([]);
    expect(ENV_VARIABLES.length).toBeGreaterThan(50);
  });
});

const key = Buffer.alloc(32, 1).toString('base64');

describe('loadConfig', () => {
  it('defaults to the embedded database and the in-process FCM emulator in development', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: 'development', port: 8080, host: '127.0.0.1', production: false });
    expect(config.database).toMatchObject({ url: undefined, dataDir: './data' });
    expect(config.fcm).toMatchObject({ emulator: true, baseUrl: undefined, emulatorPort: undefined });
    expect(loadConfig({ EMULATOR_PORT: '8099' }).fcm.emulatorPort).toBe(8099);
    expect(() => loadConfig({ EMULATOR_PORT: '70000' })).toThrowError(/EMULATOR_PORT/);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' })).toThrowError(
      /PORT[\s\S]*DATABASE_URL: must be a postgres:\/\/ URL[\s\S]*LOG_LEVEL/,
    );
  });

  it('uses Google in production and refuses insecure production settings, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrowError(/ENCRYPTION_KEY is required/);
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        ENCRYPTION_KEY: key,
        DATABASE_URL: 'postgres://db/x',
        DEBUG: 'true',
      }),
    ).toThrowError(/DEBUG must be false/);
    expect(() => loadConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: key })).toThrowError(
      /DATABASE_URL is required/,
    );
    expect(() =>
      loadConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: key, DATABASE_URL: 'postgres://db/x' }),
    ).toThrowError(/ALLOWED_HOSTS is required in production/);
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        ENCRYPTION_KEY: key,
        DATABASE_URL: 'postgres://db/x',
        ALLOWED_HOSTS: ' , ',
      }),
    ).toThrowError(/ALLOWED_HOSTS is required/);
    const config = loadConfig({
      NODE_ENV: 'production',
      ENCRYPTION_KEY: key,
      DATABASE_URL: 'postgres://db/x',
      ALLOWED_HOSTS: 'push.example.com',
    });
    expect(config.fcm).toMatchObject({ emulator: false, baseUrl: 'https://fcm.googleapis.com' });
    expect(config.webhooks).toMatchObject({ allowHttp: false, allowPrivateTargets: false });
    expect(config.allowedHosts).toEqual(['push.example.com']);
  });

  it('allows http and private webhook targets outside production, and either when configured', () => {
    expect(loadConfig({}).webhooks).toMatchObject({ allowHttp: true, allowPrivateTargets: true });
    const production = {
      NODE_ENV: 'production',
      ENCRYPTION_KEY: key,
      DATABASE_URL: 'postgres://db/x',
      ALLOWED_HOSTS: 'push.example.com',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    };
    expect(loadConfig(production).webhooks).toMatchObject({ allowHttp: true, allowPrivateTargets: true });
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' }).webhooks.allowPrivateTargets).toBe(false);
  });

  it('lists every production refusal at once, each naming its variable', () => {
    let message = '';
    try {
      loadConfig({ NODE_ENV: 'production', DEBUG: 'true' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Refusing to start in production:/);
    for (const variable of ['ENCRYPTION_KEY', 'DEBUG', 'DATABASE_URL', 'ALLOWED_HOSTS']) {
      expect(message).toContain(`  ${variable} `);
    }
  });

  it('allows any host outside production, and parses host and origin lists', () => {
    expect(loadConfig({}).allowedHosts).toEqual(['*']);
    expect(loadConfig({}).corsOrigins).toEqual([]);
    const config = loadConfig({
      ALLOWED_HOSTS: 'Push.Example.com, .example.org,,127.0.0.1,[::1]',
      CORS_ORIGINS: 'https://App.example.com/, http://localhost:3000',
    });
    expect(config.allowedHosts).toEqual(['push.example.com', '.example.org', '127.0.0.1', '[::1]']);
    expect(config.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(() => loadConfig({ ALLOWED_HOSTS: 'https://push.example.com' })).toThrowError(
      /ALLOWED_HOSTS\.0: must be host names/,
    );
    expect(() => loadConfig({ ALLOWED_HOSTS: 'push.example.com:8080' })).toThrowError(/ALLOWED_HOSTS/);
    expect(() => loadConfig({ CORS_ORIGINS: 'app.example.com' })).toThrowError(
      /CORS_ORIGINS\.0: must be origins/,
    );
    expect(() => loadConfig({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrowError(/CORS_ORIGINS/);
  });

  it('has the spec rate limits by default, server-wide overrides, and an off switch', () => {
    expect(loadConfig({}).rateLimits).toEqual({
      enabled: true,
      perMinute: {
        send: 100,
        bulk: 10,
        device_registration: 50,
        device_import: 60,
        analytics: 30,
        default: 600,
      },
    });
    const config = loadConfig({ RATE_LIMITS: 'send=300, default=1200', RATE_LIMIT_ENABLED: 'false' });
    expect(config.rateLimits).toMatchObject({
      enabled: false,
      perMinute: { send: 300, bulk: 10, default: 1200 },
    });
    expect(() => loadConfig({ RATE_LIMITS: 'sends=5' })).toThrowError(
      /RATE_LIMITS: "sends=5" is not group=requests_per_minute; groups: send, bulk, device_registration, device_import, analytics, default/,
    );
    expect(() => loadConfig({ RATE_LIMITS: 'send=-1' })).toThrowError(/RATE_LIMITS/);
  });

  it('takes previous encryption keys for decryption, naming a bad one', () => {
    const other = Buffer.alloc(32, 2);
    const config = loadConfig({
      ENCRYPTION_KEY: key,
      ENCRYPTION_KEYS_PREVIOUS: `${other.toString('base64')}, ${'cd'.repeat(32)}`,
    });
    expect(config.encryptionKey).toEqual(Buffer.alloc(32, 1));
    expect(config.previousEncryptionKeys).toEqual([other, Buffer.alloc(32, 0xcd)]);
    expect(loadConfig({}).previousEncryptionKeys).toEqual([]);
    expect(() =>
      loadConfig({ ENCRYPTION_KEY: 'short', ENCRYPTION_KEYS_PREVIOUS: `${key},nope` }),
    ).toThrowError(/ENCRYPTION_KEY: must be 32 bytes[\s\S]*ENCRYPTION_KEYS_PREVIOUS\.1: must be 32 bytes/);
  });

  it('reads the analytics roll-up schedule: a 5-field cron and at least 2 days back', () => {
    expect(loadConfig({}).analytics).toEqual({ cron: '*/10 * * * *', lookbackDays: 2 });
    expect(loadConfig({ ANALYTICS_CRON: '5 * * * *', ANALYTICS_LOOKBACK_DAYS: '7' }).analytics).toEqual({
      cron: '5 * * * *',
      lookbackDays: 7,
    });
    expect(() => loadConfig({ ANALYTICS_CRON: 'every ten minutes' })).toThrowError(
      /ANALYTICS_CRON: must be a cron/,
    );
    expect(() => loadConfig({ ANALYTICS_CRON: '0 */10 * * * *' })).toThrowError(/ANALYTICS_CRON/);
    expect(() => loadConfig({ ANALYTICS_CRON: '61 * * * *' })).toThrowError(/ANALYTICS_CRON/);
    expect(() => loadConfig({ ANALYTICS_LOOKBACK_DAYS: '1' })).toThrowError(/ANALYTICS_LOOKBACK_DAYS/);
  });

  it('parses TRUSTED_PROXIES into normalised CIDRs and names a bad entry', () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(
      loadConfig({ TRUSTED_PROXIES: '10.0.0.1, 10.1.0.0/16,2001:DB8::/32,loopback' }).trustedProxies,
    ).toEqual(['10.0.0.1/32', '10.1.0.0/16', '2001:db8::/32', 'loopback']);
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.1,proxy.local' })).toThrowError(
      /TRUSTED_PROXIES: "proxy.local" is not an IPv4 or IPv6 address/,
    );
  });

  it('keeps deleted rows 30 days unless told otherwise', () => {
    expect(loadConfig({}).softDeleteRetentionDays).toBe(30);
    expect(loadConfig({ SOFT_DELETE_RETENTION_DAYS: '7' }).softDeleteRetentionDays).toBe(7);
    expect(() => loadConfig({ SOFT_DELETE_RETENTION_DAYS: '0' })).toThrowError(/SOFT_DELETE_RETENTION_DAYS/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).database.url).toBeUndefined();
  });
});

describe('parseEncryptionKey', () => {
  it('accepts 32 bytes as base64 or hex and rejects anything else', () => {
    expect(parseEncryptionKey(key)).toHaveLength(32);
    expect(parseEncryptionKey('ab'.repeat(32))).toHaveLength(32);
    expect(() => parseEncryptionKey('short')).toThrow(ConfigError);
  });
});
