import { describe, expect, it } from 'vitest';
import { AppError } from '../lib/errors.ts';
import {
  pickVariant,
  placeholdersOf,
  renderTemplate,
  type TemplateSource,
  templateProblems,
  templateVariables,
  validateTemplateText,
} from './engine.ts';

const template = (overrides: Partial<TemplateSource> = {}): TemplateSource => ({
  name: 'order_shipped',
  title: 'Order {{order_id}} shipped',
  body: 'Hi {{ name }}, it arrives {{eta}}.',
  data: { order_id: '{{order_id}}', screen: 'orders' },
  options: { priority: 'normal', collapse_key: 'orders' },
  platformOverrides: {},
  locales: {},
  ...overrides,
});

function missingOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

describe('placeholders', () => {
  it('finds names with optional inner whitespace, each once, in order', () => {
    expect(placeholdersOf('{{a}} {{ b }} {{\tc.d-e_f\t}} {{a}}')).toEqual(['a', 'b', 'c.d-e_f']);
    expect(placeholdersOf('no placeholders, {single} braces and }} alone')).toEqual([]);
  });

  it('reports malformed and unclosed placeholders with their offset', () => {
    expect(validateTemplateText('Hello {{name}}, {x} }}')).toEqual([]);
    for (const text of ['{{ }}', '{{1x}}', '{{a b}}', '{{-a}}', `{{${'a'.repeat(65)}}}`, '{{{a}}}', '{{{{']) {
      expect(validateTemplateText(text), text).toHaveLength(1);
    }
    const [malformed] = validateTemplateText('Hi {{1x}}!');
    expect(malformed).toEqual({
      offset: 3,
      message: expect.stringContaining('malformed placeholder "{{1x}}"'),
    });
    const [unclosed] = validateTemplateText('Hi {{name');
    expect(unclosed).toEqual({
      offset: 3,
      message: expect.stringContaining('unclosed placeholder "{{name"'),
    });
    expect(validateTemplateText(`{{${'a'.repeat(64)}}}`)).toEqual([]);
  });

  it('names the field of each problem and lists every variable of a template', () => {
    const broken = template({
      title: '{{ }}',
      locales: { fr: { title: 'Commande {{order_id}', data: { k: '{{ok}}' } } },
      platformOverrides: { android: { notification: { tag: ['x', '{{2}}'] } } },
    });
    expect(templateProblems(broken).map((d) => d.field)).toEqual([
      'title',
      'locales.fr.title',
      'platform_overrides.android.notification.tag[1]',
    ]);
    expect(
      templateVariables(
        template({ locales: { fr: { body: '{{ prenom }}' } }, platformOverrides: { apns: { x: '{{z}}' } } }),
      ),
    ).toEqual(['eta', 'name', 'order_id', 'prenom', 'z']);
  });
});

describe('renderTemplate', () => {
  const variables = { order_id: '1234', name: 'Ada', eta: 'today' };

  it('substitutes title, body, data and every string of the platform overrides, keeping the options', () => {
    const rendered = renderTemplate(
      template({
        platformOverrides: { android: { notification: { tag: 'order-{{order_id}}', sticky: true, n: 2 } } },
      }),
      variables,
    );
    expect(rendered).toEqual({
      default: {
        title: 'Order 1234 shipped',
        body: 'Hi Ada, it arrives today.',
        data: { order_id: '1234', screen: 'orders' },
        priority: 'normal',
        collapse_key: 'orders',
        platform_overrides: { android: { notification: { tag: 'order-1234', sticky: true, n: 2 } } },
      },
    });
  });

  it('fills in text options such as a deep link, leaving numbers and booleans alone', () => {
    const rendered = renderTemplate(
      template({ options: { link: 'https://shop.example/orders/{{order_id}}', badge: 2, silent: false } }),
      variables,
    );
    expect(rendered.default).toMatchObject({
      link: 'https://shop.example/orders/1234',
      badge: 2,
      silent: false,
    });
    expect(templateVariables(template({ options: { link: 'https://x.example/{{ref}}' } }))).toContain('ref');
    expect(() =>
      renderTemplate(template({ options: { link: 'https://x.example/{{ref}}' } }), variables),
    ).toThrow(/ref/);
  });

  it('inserts values literally: no re-expansion and no replacement patterns', () => {
    const rendered = renderTemplate(template({ title: '{{a}}|{{b}}|{{c}}|{{d}}', body: null, data: {} }), {
      a: '{{b}}',
      b: '$& $1 $$ $`',
      c: '</script><script>alert(1)</script>',
      d: '{{',
    });
    expect(rendered.default!.title).toBe('{{b}}|$& $1 $$ $`|</script><script>alert(1)</script>|{{');
  });

  it('ignores unknown variables and leaves absent fields out', () => {
    const rendered = renderTemplate(template({ title: null, body: 'static', data: {}, options: {} }), {
      unused: 'x',
    });
    expect(rendered).toEqual({ default: { body: 'static' } });
  });

  it('renders locale variants that inherit title, body and data from the default', () => {
    const rendered = renderTemplate(
      template({
        locales: {
          fr: { title: 'Commande {{order_id}} expédiée', data: { screen: 'commandes', lang: 'fr' } },
          'pt-BR': { body: 'Olá {{name}}' },
        },
      }),
      variables,
    );
    expect(rendered.fr).toMatchObject({
      title: 'Commande 1234 expédiée',
      body: 'Hi Ada, it arrives today.',
      data: { order_id: '1234', screen: 'commandes', lang: 'fr' },
      priority: 'normal',
    });
    expect(rendered['pt-BR']).toMatchObject({ title: 'Order 1234 shipped', body: 'Olá Ada' });
  });

  it('names every missing variable of every variant, with where each is used', () => {
    const error = missingOf(() =>
      renderTemplate(
        template({
          locales: { fr: { body: 'Bonjour {{prenom}}, {{eta}}' } },
          platformOverrides: { apns: { payload: { aps: { 'thread-id': '{{thread}}' } } } },
        }),
        { order_id: '1', constructor: 'x' },
      ),
    );
    expect(error).toMatchObject({
      code: 'missing_variables',
      status: 422,
      message: 'template "order_shipped" needs variables: eta, name, prenom, thread',
    });
    expect(error.details).toEqual([
      { field: 'variables.eta', message: 'required by template order_shipped (body, locales.fr.body)' },
      { field: 'variables.name', message: 'required by template order_shipped (body)' },
      { field: 'variables.prenom', message: 'required by template order_shipped (locales.fr.body)' },
      {
        field: 'variables.thread',
        message: 'required by template order_shipped (platform_overrides.apns.payload.aps.thread-id)',
      },
    ]);
  });

  it('does not take variables from the object prototype', () => {
    const error = missingOf(() =>
      renderTemplate(template({ title: '{{constructor}}', body: null, data: {} }), {}),
    );
    expect(error.details).toEqual([expect.objectContaining({ field: 'variables.constructor' })]);
  });
});

describe('pickVariant', () => {
  const contents = { default: 'en', fr: 'fr', 'pt-BR': 'pt-BR', pt: 'pt', zh_Hant: 'zh-Hant' };

  it('matches the exact tag, ignoring case and reading _ as -', () => {
    expect(pickVariant(contents, 'fr')).toBe('fr');
    expect(pickVariant(contents, 'pt_br')).toBe('pt-BR');
    expect(pickVariant(contents, 'PT-BR')).toBe('pt-BR');
    expect(pickVariant(contents, 'zh-hant')).toBe('zh-Hant');
  });

  it('falls back to the language, then to the default', () => {
    expect(pickVariant(contents, 'fr-CA')).toBe('fr');
    expect(pickVariant(contents, 'pt-PT')).toBe('pt');
    expect(pickVariant(contents, 'de-DE')).toBe('en');
    expect(pickVariant({ default: 'en', 'pt-BR': 'pt-BR' }, 'pt')).toBe('en');
    expect(pickVariant(contents, null)).toBe('en');
    expect(pickVariant(contents, undefined)).toBe('en');
    expect(pickVariant(contents, '')).toBe('en');
  });
});
