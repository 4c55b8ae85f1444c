/**
 * The documented answers of the executable docs: a `# → 202 {"status": "queued", …}` comment after a curl line
 * says what the reader gets. The status is compared exactly; the JSON is read loosely, the way a reader reads it:
 * `…` (or `...`) stands for "anything here": a whole value, the rest of an array or object, or, inside quotes, any
 * text ("…" is some string, "evt_…" one that starts so). An object shown is a subset of the actual one: the docs
 * show the fields that matter.
 */

/** What a `# →` comment promises: a status, a JSON shape, or both. */
export interface Expectation {
  status?: number;
  body?: Pattern;
}

/** A loosely written JSON value; `any` matches every value, `rest` in an array allows more elements. */
export type Pattern =
  | { kind: 'any' }
  | { kind: 'string'; value: string }
  | { kind: 'literal'; value: number | boolean | null }
  | { kind: 'array'; items: Pattern[]; rest: boolean }
  | { kind: 'object'; fields: [string, Pattern][] };

const ELLIPSIS = '…';

/** Reads `202`, `202 {…}` or `{…}`; throws on anything else so that a doc cannot promise what is not checked. */
export function parseExpectation(text: string): Expectation {
  const match = /^(\d{3})?\s*([\s\S]*)$/.exec(text.trim().replaceAll('...', ELLIPSIS));
  const status = match?.[1] ? Number(match[1]) : undefined;
  const rest = match?.[2]?.trim() ?? '';
  if (rest === '') {
    if (status === undefined) throw new Error(`empty documented answer: "${text}"`);
    return { status };
  }
  const reader = new Reader(rest);
  const body = reader.value();
  reader.end();
  return { status, body };
}

class Reader {
  private at = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  value(): Pattern {
    this.space();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return { kind: 'string', value: this.string() };
    if (c === ELLIPSIS) {
      this.at++;
      return { kind: 'any' };
    }
    const literal = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.at));
    if (!literal) this.fail('a value');
    this.at += literal[0].length;
    return { kind: 'literal', value: JSON.parse(literal[0]) as number | boolean | null };
  }

  end(): void {
    this.space();
    if (this.at < this.text.length) this.fail('the end of the answer');
  }

  private object(): Pattern {
    const fields: [string, Pattern][] = [];
    this.at++;
    for (;;) {
      this.space();
      if (this.eat('}')) return { kind: 'object', fields };
      if (this.eat(ELLIPSIS)) {
        // "…and more fields": objects are compared as subsets anyway.
      } else {
        const key = this.string();
        this.space();
        if (!this.eat(':')) this.fail('":"');
        fields.push([key, this.value()]);
      }
      this.space();
      if (!this.eat(',') && this.text[this.at] !== '}') this.fail('"," or "}"');
    }
  }

  private array(): Pattern {
    const items: Pattern[] = [];
    let rest = false;
    this.at++;
    for (;;) {
      this.space();
      if (this.eat(']')) return { kind: 'array', items, rest };
      if (this.eat(ELLIPSIS)) rest = true;
      else items.push(this.value());
      this.space();
      if (!this.eat(',') && this.text[this.at] !== ']') this.fail('"," or "]"');
    }
  }

  private string(): string {
    const match = /^"(?:[^"\\]|\\.)*"/.exec(this.text.slice(this.at));
    if (!match) this.fail('a string');
    this.at += match[0].length;
    return JSON.parse(match[0]) as string;
  }

  private eat(token: string): boolean {
    if (!this.text.startsWith(token, this.at)) return false;
    this.at += token.length;
    return true;
  }

  private space(): void {
    while (/\s/.test(this.text[this.at] ?? '')) this.at++;
  }

  private fail(what: string): never {
    throw new Error(`documented answer: expected ${what} at "${this.text.slice(this.at, this.at + 30)}"`);
  }
}

/** Where the actual value departs from the pattern (a JSON path and why), or undefined when it matches. */
export function mismatch(pattern: Pattern, actual: unknown, path = '$'): string | undefined {
  switch (pattern.kind) {
    case 'any':
      return undefined;
    case 'literal':
      return actual === pattern.value ? undefined : `${path}: expected ${pattern.value}, got ${show(actual)}`;
    case 'string': {
      if (typeof actual !== 'string') return `${path}: expected a string, got ${show(actual)}`;
      const parts = pattern.value.split(ELLIPSIS).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      return new RegExp(`^${parts.join('[\\s\\S]*')}$`).test(actual)
        ? undefined
        : `${path}: expected "${pattern.value}", got ${show(actual)}`;
    }
    case 'array': {
      if (!Array.isArray(actual)) return `${path}: expected an array, got ${show(actual)}`;
      if (actual.length < pattern.items.length || (!pattern.rest && actual.length !== pattern.items.length))
        return `${path}: expected ${pattern.items.length}${pattern.rest ? ' or more' : ''} items, got ${actual.length}`;
      for (const [i, item] of pattern.items.entries()) {
        const found = mismatch(item, actual[i], `${path}[${i}]`);
        if (found) return found;
      }
      return undefined;
    }
    case 'object': {
      if (typeof actual !== 'object' || actual === null || Array.isArray(actual))
        return `${path}: expected an object, got ${show(actual)}`;
      for (const [key, value] of pattern.fields) {
        if (!(key in actual)) return `${path}.${key}: missing`;
        const found = mismatch(value, (actual as Record<string, unknown>)[key], `${path}.${key}`);
        if (found) return found;
      }
      return undefined;
    }
  }
}

const show = (value: unknown) => JSON.stringify(value)?.slice(0, 200) ?? String(value);
