/**
 * Notification templates: text with `{{name}}` placeholders, filled in with the variables of a send. Pure
 * substitution: nothing in a template is ever evaluated (no helpers, partials, conditionals or loops).
 *
 * Syntax: `{{`, optional whitespace, a name (a letter or `_`, then up to 63 of `A-Z a-z 0-9 _ . -`), optional
 * whitespace, `}}`. Every `{{` opens a placeholder and there is no escape, so a malformed or unclosed one is an
 * error when the template is saved; text that must contain a literal `{{` is passed in a variable instead,
 * because variable values are inserted as they are and never expanded again.
 */
import type { Priority } from '../domain/content.ts';
import { AppError, type ErrorDetail } from '../lib/errors.ts';

const NAME = '[A-Za-z_][A-Za-z0-9_.-]{0,63}';
/** A well-formed placeholder starting exactly at lastIndex. */
const PLACEHOLDER = new RegExp(`\\{\\{\\s*(${NAME})\\s*\\}\\}`, 'y');
const SNIPPET_LENGTH = 40;

/** The content fields of a send other than title, body and data, in their API names, as stored. */
export type TemplateOptions = {
  image_url?: string;
  sound?: string;
  badge?: number;
  priority?: Priority;
  ttl_seconds?: number;
  collapse_key?: string;
  android_channel_id?: string;
  click_action?: string;
  link?: string;
  analytics_label?: string;
  silent?: boolean;
};

/** Raw FCM v1 platform blocks, merged into the message when it is rendered for a device. */
export type PlatformOverrides = {
  android?: Record<string, unknown>;
  apns?: Record<string, unknown>;
  webpush?: Record<string, unknown>;
};

/** What a locale variant may replace; data is merged over the default's. */
export type LocaleVariant = { title?: string; body?: string; data?: Record<string, string> };

/** A template filled in: the content of a send, in API names. */
export type TemplateContent = {
  title?: string;
  body?: string;
  data?: Record<string, string>;
  platform_overrides?: PlatformOverrides;
} & TemplateOptions;

/** The parts of a stored template the engine reads. */
export type TemplateSource = {
  name: string;
  title: string | null;
  body: string | null;
  data: Record<string, string>;
  options: TemplateOptions;
  platformOverrides: PlatformOverrides;
  locales: Record<string, LocaleVariant>;
};

export type TemplateProblem = { offset: number; message: string };

type Token = { text: string } | { name: string };

/** Splits text into literal runs and placeholders; malformed placeholders are reported and kept as text. */
function scan(text: string): { tokens: Token[]; problems: TemplateProblem[] } {
  const tokens: Token[] = [];
  const problems: TemplateProblem[] = [];
  let position = 0;
  while (position < text.length) {
    const open = text.indexOf('{{', position);
    if (open === -1) break;
    if (open > position) tokens.push({ text: text.slice(position, open) });
    PLACEHOLDER.lastIndex = open;
    const match = PLACEHOLDER.exec(text);
    if (match) {
      tokens.push({ name: match[1]! });
      position = PLACEHOLDER.lastIndex;
      continue;
    }
    const close = text.indexOf('}}', open + 2);
    const end = close === -1 ? text.length : close + 2;
    const snippet =
      end - open > SNIPPET_LENGTH ? `${text.slice(open, open + SNIPPET_LENGTH)}…` : text.slice(open, end);
    problems.push({
      offset: open,
      message:
        close === -1
          ? `unclosed placeholder "${snippet}" at offset ${open}: it needs a closing }}`
          : `malformed placeholder "${snippet}" at offset ${open}: write {{name}}, the name a letter or _ ` +
            'then up to 63 of A-Z a-z 0-9 _ . - (a literal {{ can only come from a variable)',
    });
    tokens.push({ text: text.slice(open, end) });
    position = end;
  }
  if (position < text.length) tokens.push({ text: text.slice(position) });
  return { tokens, problems };
}

/** The names of the well-formed placeholders in text, each once, in order of first use. */
export function placeholdersOf(text: string): string[] {
  const names = new Set<string>();
  for (const token of scan(text).tokens) if ('name' in token) names.add(token.name);
  return [...names];
}

/** Syntax errors in text: malformed or unclosed placeholders. Empty when the text is valid. */
export function validateTemplateText(text: string): TemplateProblem[] {
  return scan(text).problems;
}

/** Replaces each placeholder with its variable's value, in one pass (values are never expanded again). */
function substitute(text: string, variables: Record<string, string>): string {
  return scan(text)
    .tokens.map((token) => ('name' in token ? (variables[token.name] ?? '') : token.text))
    .join('');
}

/** Every string inside a JSON value with its path, e.g. ["android.notification.tag", "order-{{id}}"]. */
function* stringsIn(value: unknown, path: string): Generator<[string, string]> {
  if (typeof value === 'string') {
    yield [path, value];
  } else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) yield* stringsIn(item, `${path}[${index}]`);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) yield* stringsIn(item, `${path}.${key}`);
  }
}

/** Every text of a template that may hold placeholders, with the field it is in (e.g. "locales.fr.title"). */
function* textsOf(template: Omit<TemplateSource, 'name'>): Generator<[string, string]> {
  if (template.title !== null) yield ['title', template.title];
  if (template.body !== null) yield ['body', template.body];
  yield* stringsIn(template.data, 'data');
  for (const [tag, variant] of Object.entries(template.locales)) {
    if (variant.title !== undefined) yield [`locales.${tag}.title`, variant.title];
    if (variant.body !== undefined) yield [`locales.${tag}.body`, variant.body];
    yield* stringsIn(variant.data ?? {}, `locales.${tag}.data`);
  }
  yield* stringsIn(template.platformOverrides, 'platform_overrides');
  // Text options too: a deep link such as https://shop.example/orders/{{order_id}} is the common case.
  yield* stringsIn(template.options, 'options');
}

/** Placeholder syntax errors anywhere in a template, one detail per problem naming its field. */
export function templateProblems(template: Omit<TemplateSource, 'name'>): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const [field, text] of textsOf(template)) {
    for (const problem of validateTemplateText(text)) details.push({ field, message: problem.message });
  }
  return details;
}

/** Every placeholder name used anywhere in a template, sorted. */
export function templateVariables(template: Omit<TemplateSource, 'name'>): string[] {
  const names = new Set<string>();
  for (const [, text] of textsOf(template)) for (const name of placeholdersOf(text)) names.add(name);
  return [...names].sort();
}

/** Fills in every string of a JSON value, keeping its shape. */
function substituteDeep(value: unknown, variables: Record<string, string>): unknown {
  if (typeof value === 'string') return substitute(value, variables);
  if (Array.isArray(value)) return value.map((item) => substituteDeep(item, variables));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteDeep(item, variables)]),
    );
  }
  return value;
}

const substituteValues = (data: Record<string, string>, variables: Record<string, string>) =>
  Object.fromEntries(Object.entries(data).map(([key, text]) => [key, substitute(text, variables)]));

/**
 * Renders the default content and one per locale variant (a variant inherits the title and body it does not
 * set, and its data is merged over the default's). Throws a 422 `missing_variables` naming every variable any
 * variant needs that is not given; unknown variables are ignored.
 */
export function renderTemplate(
  template: TemplateSource,
  variables: Record<string, string>,
): Record<string, TemplateContent> {
  const missing = new Map<string, string[]>();
  for (const [field, text] of textsOf(template)) {
    for (const name of placeholdersOf(text)) {
      // Own properties only: a placeholder named "constructor" must not find Object.prototype's.
      if (Object.hasOwn(variables, name) && typeof variables[name] === 'string') continue;
      missing.set(name, [...(missing.get(name) ?? []), field]);
    }
  }
  if (missing.size > 0) {
    const names = [...missing.keys()].sort();
    throw new AppError(
      'missing_variables',
      422,
      `template "${template.name}" needs variables: ${names.join(', ')}`,
      names.map((name) => ({
        field: `variables.${name}`,
        message: `required by template ${template.name} (${missing.get(name)!.join(', ')})`,
      })),
    );
  }
  const shared = substituteDeep(template.options, variables) as TemplateContent;
  if (Object.keys(template.platformOverrides).length > 0) {
    shared.platform_overrides = substituteDeep(template.platformOverrides, variables) as PlatformOverrides;
  }
  const contentOf = (title: string | null, body: string | null, data: Record<string, string>) => {
    const content: TemplateContent = { ...shared };
    if (title !== null) content.title = substitute(title, variables);
    if (body !== null) content.body = substitute(body, variables);
    if (Object.keys(data).length > 0) content.data = substituteValues(data, variables);
    return content;
  };
  return Object.fromEntries([
    ['default', contentOf(template.title, template.body, template.data)],
    ...Object.entries(template.locales).map(([tag, variant]) => [
      tag,
      contentOf(variant.title ?? template.title, variant.body ?? template.body, {
        ...template.data,
        ...variant.data,
      }),
    ]),
  ]);
}

const normalizeTag = (tag: string) => tag.toLowerCase().replaceAll('_', '-');

/**
 * The variant for a device locale: the exact tag (case-insensitive, "_" read as "-"), else its language
 * ("pt-BR" → "pt"), else "default".
 */
export function pickVariant<T>(contents: Record<string, T>, locale: string | null | undefined): T {
  if (locale) {
    const wanted = normalizeTag(locale);
    const language = wanted.split('-')[0]!;
    const tags = Object.keys(contents).filter((tag) => tag !== 'default');
    const match =
      tags.find((tag) => normalizeTag(tag) === wanted) ?? tags.find((tag) => normalizeTag(tag) === language);
    if (match !== undefined) return contents[match]!;
  }
  const fallback = contents.default;
  if (fallback === undefined) throw new Error('pickVariant: contents has no "default" entry');
  return fallback;
}
