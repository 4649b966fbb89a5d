import { InvalidInputError } from '../../errors.js';

export type Vars = Readonly<Record<string, unknown>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/**
 * Fills `{{ name }}` placeholders with the test's vars (strings as they are, other values as JSON). Unlike
 * Jinja, a placeholder with no var is an error naming `field`, never an empty string in the prompt.
 */
export function renderTemplate(template: string, vars: Vars, field: string): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    if (!Object.hasOwn(vars, name)) {
      const known = Object.keys(vars);
      throw new InvalidInputError(field, `uses {{${name}}} but the test has no var "${name}" (vars: ${known.length > 0 ? known.join(', ') : 'none'})`);
    }
    const value = vars[name];
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}
