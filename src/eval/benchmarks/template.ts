import { pythonIndex, pythonLength, pythonSlice, pythonSplit, pythonStrip } from '../python-text.js';

/**
 * Prompt templates in the subset of Jinja that lm-evaluation-harness task files use, evaluated with
 * Python's string semantics (its templates run under Python's jinja2): `{{ expression }}` where an
 * expression is a field name, a 'string' or integer literal, `a.b` / `a[i]` / `a[i:j]` access, string
 * methods strip/lstrip/rstrip/lower/upper/replace, `+`, `==`/`!=` and `x if cond else y`.
 * A trailing newline is kept (lm-eval's `keep_trailing_newline=True`), and an unknown field is an error
 * rather than empty text (lm-eval's `StrictUndefined`).
 */
export class TemplateError extends Error {
  constructor(
    message: string,
    /** The unknown field, when that is what went wrong. */
    readonly missingField?: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

export type TemplateValue = string | number | boolean | null | readonly TemplateValue[] | { readonly [key: string]: TemplateValue };
export type TemplateContext = Readonly<Record<string, TemplateValue>>;

type Node =
  | { kind: 'literal'; value: TemplateValue }
  | { kind: 'field'; name: string }
  | { kind: 'attribute'; target: Node; name: string }
  | { kind: 'index'; target: Node; index: Node }
  | { kind: 'slice'; target: Node; start?: Node; end?: Node }
  | { kind: 'call'; target: Node; method: string; args: Node[] }
  | { kind: 'binary'; op: '+' | '==' | '!='; left: Node; right: Node }
  | { kind: 'conditional'; test: Node; then: Node; otherwise: Node };

type Part = { kind: 'text'; text: string } | { kind: 'expression'; node: Node; source: string };

const STRING_METHODS = new Set(['strip', 'lstrip', 'rstrip', 'lower', 'upper', 'replace', 'split', 'join']);

export class PromptTemplate {
  private readonly parts: Part[];

  /** Parses the template; a syntax error throws TemplateError. */
  constructor(readonly source: string) {
    this.parts = [];
    let cursor = 0;
    while (cursor < source.length) {
      const open = source.indexOf('{{', cursor);
      if (open < 0) {
        this.parts.push({ kind: 'text', text: source.slice(cursor) });
        break;
      }
      if (open > cursor) this.parts.push({ kind: 'text', text: source.slice(cursor, open) });
      const close = source.indexOf('}}', open + 2);
      if (close < 0) throw new TemplateError(`"{{" at offset ${open} is never closed with "}}"`);
      const expression = source.slice(open + 2, close);
      this.parts.push({ kind: 'expression', node: new Parser(expression).parseAll(), source: expression.trim() });
      cursor = close + 2;
    }
    if (/\{%|\{#/.test(source)) throw new TemplateError('only {{ expressions }} are supported, not {% statements %} or {# comments #}; use "x if cond else y"');
  }

  /** The fields the template reads at top level (for checking records before rendering). */
  fields(): string[] {
    const names = new Set<string>();
    const visit = (node: Node): void => {
      switch (node.kind) {
        case 'field':
          names.add(node.name);
          return;
        case 'literal':
          return;
        case 'attribute':
          return visit(node.target);
        case 'index':
          visit(node.target);
          return visit(node.index);
        case 'slice':
          visit(node.target);
          if (node.start) visit(node.start);
          if (node.end) visit(node.end);
          return;
        case 'call':
          visit(node.target);
          return node.args.forEach(visit);
        case 'binary':
          visit(node.left);
          return visit(node.right);
        case 'conditional':
          visit(node.test);
          visit(node.then);
          return visit(node.otherwise);
      }
    };
    for (const part of this.parts) if (part.kind === 'expression') visit(part.node);
    return [...names];
  }

  render(context: TemplateContext): string {
    let out = '';
    for (const part of this.parts) {
      if (part.kind === 'text') out += part.text;
      else out += toText(evaluate(part.node, context), part.source);
    }
    return out;
  }
}

function toText(value: TemplateValue, source: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pythonFloat(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return 'None';
  throw new TemplateError(`{{ ${source} }} is a list or mapping, not text`);
}

function pythonFloat(value: number): string {
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function evaluate(node: Node, context: TemplateContext): TemplateValue {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'field': {
      if (!Object.hasOwn(context, node.name) || context[node.name] === undefined) throw new TemplateError(`field "${node.name}" is missing`, node.name);
      return context[node.name];
    }
    case 'attribute': {
      const target = evaluate(node.target, context);
      if (isMapping(target) && Object.hasOwn(target, node.name)) return target[node.name];
      throw new TemplateError(`has no attribute "${node.name}"`);
    }
    case 'index': {
      const target = evaluate(node.target, context);
      const index = evaluate(node.index, context);
      if (typeof target === 'string' && typeof index === 'number') {
        const char = pythonIndex(target, index);
        if (char === undefined) throw new TemplateError(`string index ${index} is out of range (length ${pythonLength(target)})`);
        return char;
      }
      if (Array.isArray(target) && typeof index === 'number') {
        const i = index < 0 ? target.length + index : index;
        if (i < 0 || i >= target.length) throw new TemplateError(`list index ${index} is out of range (length ${target.length})`);
        return target[i];
      }
      if (isMapping(target) && typeof index === 'string') {
        if (!Object.hasOwn(target, index)) throw new TemplateError(`has no key "${index}"`);
        return target[index];
      }
      throw new TemplateError(`cannot index ${typeName(target)} with ${typeName(index)}`);
    }
    case 'slice': {
      const target = evaluate(node.target, context);
      const bound = (n: Node | undefined) => {
        if (!n) return undefined;
        const v = evaluate(n, context);
        if (typeof v !== 'number' || !Number.isInteger(v)) throw new TemplateError(`slice bounds must be integers, got ${typeName(v)}`);
        return v;
      };
      const start = bound(node.start);
      const end = bound(node.end);
      if (typeof target === 'string') return pythonSlice(target, start, end);
      if (Array.isArray(target)) {
        const clamp = (i: number) => (i < 0 ? Math.max(0, target.length + i) : Math.min(i, target.length));
        return target.slice(start === undefined ? 0 : clamp(start), end === undefined ? target.length : clamp(end));
      }
      throw new TemplateError(`cannot slice ${typeName(target)}`);
    }
    case 'call': {
      const target = evaluate(node.target, context);
      if (typeof target !== 'string') throw new TemplateError(`.${node.method}() needs a string, got ${typeName(target)}`);
      const args = node.args.map((a) => evaluate(a, context));
      switch (node.method) {
        case 'strip':
          return pythonStrip(target);
        case 'lstrip':
          return pythonStrip(target, 'left');
        case 'rstrip':
          return pythonStrip(target, 'right');
        case 'lower':
          return target.toLowerCase();
        case 'upper':
          return target.toUpperCase();
        case 'replace': {
          if (args.length !== 2 || typeof args[0] !== 'string' || typeof args[1] !== 'string') throw new TemplateError('.replace() takes two strings');
          return target.split(args[0]).join(args[1]);
        }
        case 'split':
          // Only the argument-less form: runs of Python whitespace separate (HELM truncates documents with it).
          if (args.length !== 0) throw new TemplateError('.split() takes no arguments here (it splits at runs of whitespace)');
          return pythonSplit(target);
        case 'join': {
          const list = args[0];
          if (args.length !== 1 || !Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new TemplateError('.join() takes one list of strings');
          return (list as string[]).join(target);
        }
      }
      throw new TemplateError(`unknown method .${node.method}()`);
    }
    case 'binary': {
      const left = evaluate(node.left, context);
      const right = evaluate(node.right, context);
      if (node.op === '==') return left === right;
      if (node.op === '!=') return left !== right;
      if (typeof left === 'string' && typeof right === 'string') return left + right;
      if (typeof left === 'number' && typeof right === 'number') return left + right;
      throw new TemplateError(`cannot add ${typeName(left)} and ${typeName(right)}`);
    }
    case 'conditional':
      return truthy(evaluate(node.test, context)) ? evaluate(node.then, context) : evaluate(node.otherwise, context);
  }
}

function truthy(value: TemplateValue): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (isMapping(value)) return Object.keys(value).length > 0;
  return Boolean(value);
}

function isMapping(value: TemplateValue): value is { readonly [key: string]: TemplateValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: TemplateValue): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return 'a list';
  return isMapping(value) ? 'a mapping' : `a ${typeof value}`;
}

/** Recursive descent over one `{{ ... }}` expression. */
class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseAll(): Node {
    const node = this.conditional();
    this.space();
    if (this.pos < this.text.length) this.fail(`unexpected "${this.text.slice(this.pos)}"`);
    return node;
  }

  private fail(detail: string): never {
    throw new TemplateError(`in {{${this.text}}}: ${detail}`);
  }

  private space(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private accept(token: string): boolean {
    this.space();
    if (!this.text.startsWith(token, this.pos)) return false;
    // A keyword must not run into a longer name ("iffy").
    if (/^[a-z]+$/.test(token) && /[A-Za-z0-9_]/.test(this.text[this.pos + token.length] ?? '')) return false;
    this.pos += token.length;
    return true;
  }

  private expect(token: string): void {
    if (!this.accept(token)) this.fail(`expected "${token}" at offset ${this.pos}`);
  }

  private conditional(): Node {
    const then = this.comparison();
    if (!this.accept('if')) return then;
    const test = this.comparison();
    this.expect('else');
    return { kind: 'conditional', test, then, otherwise: this.conditional() };
  }

  private comparison(): Node {
    const left = this.concat();
    for (const op of ['==', '!='] as const) if (this.accept(op)) return { kind: 'binary', op, left, right: this.concat() };
    return left;
  }

  private concat(): Node {
    let node = this.postfix();
    while (this.accept('+')) node = { kind: 'binary', op: '+', left: node, right: this.postfix() };
    return node;
  }

  private postfix(): Node {
    let node = this.primary();
    for (;;) {
      if (this.accept('.')) {
        const name = this.identifier();
        if (this.accept('(')) {
          if (!STRING_METHODS.has(name)) this.fail(`unknown method .${name}() (supported: ${[...STRING_METHODS].join(', ')})`);
          const args: Node[] = [];
          if (!this.accept(')')) {
            do args.push(this.conditional());
            while (this.accept(','));
            this.expect(')');
          }
          node = { kind: 'call', target: node, method: name, args };
        } else {
          node = { kind: 'attribute', target: node, name };
        }
      } else if (this.accept('[')) {
        const start = this.peek(':') ? undefined : this.conditional();
        if (this.accept(':')) {
          const end = this.peek(']') ? undefined : this.conditional();
          this.expect(']');
          node = { kind: 'slice', target: node, start, end };
        } else {
          this.expect(']');
          node = { kind: 'index', target: node, index: start! };
        }
      } else {
        return node;
      }
    }
  }

  private peek(token: string): boolean {
    this.space();
    return this.text.startsWith(token, this.pos);
  }

  private identifier(): string {
    this.space();
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (!match) this.fail(`expected a name at offset ${this.pos}`);
    this.pos += match[0].length;
    return match[0];
  }

  private primary(): Node {
    this.space();
    const char = this.text[this.pos];
    if (char === "'" || char === '"') return { kind: 'literal', value: this.string(char) };
    const number = /^-?\d+/.exec(this.text.slice(this.pos));
    if (number) {
      this.pos += number[0].length;
      return { kind: 'literal', value: Number(number[0]) };
    }
    if (this.accept('(')) {
      const inner = this.conditional();
      this.expect(')');
      return inner;
    }
    const name = this.identifier();
    if (name === 'True' || name === 'true') return { kind: 'literal', value: true };
    if (name === 'False' || name === 'false') return { kind: 'literal', value: false };
    if (name === 'None' || name === 'none') return { kind: 'literal', value: null };
    return { kind: 'field', name };
  }

  private string(quote: string): string {
    const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
    let out = '';
    this.pos++;
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === '\\') {
        const next = this.text[this.pos + 1];
        out += escapes[next] ?? `\\${next}`;
        this.pos += 2;
      } else {
        out += this.text[this.pos++];
      }
    }
    if (this.pos >= this.text.length) this.fail('string literal is never closed');
    this.pos++;
    return out;
  }
}
