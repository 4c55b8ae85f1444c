/**
 * Points Google's Firebase SDKs for Node at the FCM emulator, without changing their code:
 *
 *   FCM_EMULATOR_HOST=127.0.0.1:8099 NODE_EXTRA_CA_CERTS=<the emulator's cert.pem> \
 *     node --import fcm-server/bin/emulator-preload.mjs your-app.js
 *
 * Connections to fcm.googleapis.com, oauth2.googleapis.com and iid.googleapis.com (port 443) go to the
 * emulator's host and port instead, whichever client opens them (node:https, node:http2, fetch): the hook is
 * net.Socket#connect, below all of them. TLS still checks the certificate against the Google host name, so the
 * emulator must run with --tls and its certificate be trusted through NODE_EXTRA_CA_CERTS. dns.lookup answers
 * 127.0.0.1 for those hosts too, so nothing about them ever reaches a real resolver. Every other connection is
 * left alone.
 *
 * One more repair: firebase-admin's HTTP/2 client (sendEach) sends the pseudo-header `:scheme: "https:"`, with
 * the URL's colon. Google's front ends let it pass; Node's HTTP/2 server (nghttp2) refuses the stream as
 * malformed before any handler sees it, so the emulator cannot tolerate it itself. HTTP/2 requests are given
 * `:scheme: "https"` here instead. Plain JavaScript with no imports beyond Node, so it loads in any project (docs/emulator.md).
 */
import dns from 'node:dns';
import http2 from 'node:http2';
import net from 'node:net';

const GOOGLE_HOSTS = new Set(['fcm.googleapis.com', 'oauth2.googleapis.com', 'iid.googleapis.com']);
const target = process.env.FCM_EMULATOR_HOST ?? '127.0.0.1:8099';
const match = /^(.*):(\d+)$/.exec(target);
if (!match) throw new Error(`FCM_EMULATOR_HOST must be host:port, got "${target}"`);
const emulatorHost = match[1].replace(/^\[(.*)\]$/, '$1');
const emulatorPort = Number(match[2]);

const isGoogle = (host) =>
  typeof host === 'string' && GOOGLE_HOSTS.has(host.toLowerCase().replace(/\.$/, ''));

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectToEmulator(...args) {
  // net.connect passes its normalised [options, callback] array; direct callers pass (options, callback).
  const [options, callback] = Array.isArray(args[0]) ? args[0] : args;
  if (options && typeof options === 'object' && isGoogle(options.host)) {
    // A copy: TLS reads the original options later to check the certificate against the Google host name.
    return connect.call(this, { ...options, host: emulatorHost, port: emulatorPort }, callback ?? null);
  }
  return connect.apply(this, args);
};

const http2Connect = http2.connect;
http2.connect = function connectNormalisingScheme(...args) {
  const session = http2Connect.apply(this, args);
  const request = session.request;
  session.request = function requestWithPlainScheme(headers, ...rest) {
    const scheme = headers?.[':scheme'];
    const fixed =
      typeof scheme === 'string' && scheme.endsWith(':')
        ? { ...headers, ':scheme': scheme.slice(0, -1) }
        : headers;
    return request.call(this, fixed, ...rest);
  };
  return session;
};

const lookup = dns.lookup;
dns.lookup = function lookupLoopback(hostname, options, callback) {
  if (!isGoogle(hostname)) return lookup.call(this, hostname, options, callback);
  const done = typeof options === 'function' ? options : callback;
  const all = typeof options === 'object' && options !== null && options.all;
  process.nextTick(() =>
    all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4),
  );
  return {};
};
const lookupPromise = dns.promises.lookup;
dns.promises.lookup = function lookupLoopbackPromise(hostname, options) {
  if (!isGoogle(hostname)) return lookupPromise.call(this, hostname, options);
  const all = typeof options === 'object' && options !== null && options.all;
  return Promise.resolve(all ? [{ address: '127.0.0.1', family: 4 }] : { address: '127.0.0.1', family: 4 });
};
