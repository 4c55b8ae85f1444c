/** IANA time-zone names, checked with the runtime's own tz database (Intl), so no list goes stale. */

const known = new Map<string, boolean>();

export function isTimeZone(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false;
  let ok = known.get(name);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: name });
      ok = true;
    } catch {
      ok = false;
    }
    if (known.size < 1000) known.set(name, ok);
  }
  return ok;
}
