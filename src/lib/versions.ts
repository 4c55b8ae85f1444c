/**
 * App versions compared as versions, not strings ("2.10.0" > "2.9.1"). A version is reduced to a key of three
 * integers [major, minor, patch] (missing parts are 0, a pre-release or build suffix is ignored), which the
 * database compares element by element.
 */

export type VersionKey = [number, number, number];

const VERSION = /^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?:[-+._][0-9A-Za-z.+-]*)?$/;

/** The comparable key of a version string, or null when it does not start like a version. */
export function versionKey(version: string): VersionKey | null {
  const match = VERSION.exec(version.trim());
  if (!match) return null;
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

export type Comparator = '=' | '>' | '>=' | '<' | '<=';

export interface VersionConstraint {
  op: Comparator;
  key: VersionKey;
}

/**
 * Parses a range: space-separated comparators that must all hold, e.g. `>=2.3.0 <3`, or a plain version
 * meaning "exactly". Throws a RangeError naming the part it cannot read.
 */
export function parseVersionRange(range: string): VersionConstraint[] {
  const parts = range.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) throw new RangeError('an app_version range needs at least one version');
  if (parts.length > 4) throw new RangeError('an app_version range has at most 4 comparators');
  return parts.map((part) => {
    const match = /^(>=|<=|>|<|=)?(.*)$/.exec(part)!;
    const key = versionKey(match[2] ?? '');
    if (!key)
      throw new RangeError(`"${part}" is not a version or a comparator followed by one (e.g. >=2.3.0)`);
    return { op: (match[1] ?? '=') as Comparator, key };
  });
}

function compare(a: VersionKey, b: VersionKey): number {
  for (let i = 0; i < 3; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

/** Whether a version satisfies every constraint (the same rule the SQL filter applies). */
export function satisfies(version: string, constraints: VersionConstraint[]): boolean {
  const key = versionKey(version);
  if (!key) return false;
  return constraints.every(({ op, key: bound }) => {
    const c = compare(key, bound);
    if (op === '=') return c === 0;
    if (op === '>') return c > 0;
    if (op === '>=') return c >= 0;
    if (op === '<') return c < 0;
    return c <= 0;
  });
}
