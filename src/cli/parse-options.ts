import { type ParseArgsConfig, parseArgs } from 'node:util';
import { InvalidInputError } from '../errors.js';

/** A value that starts with a dash but is a number, such as -1 or -.5: the value of the option before it. */
const NEGATIVE_NUMBER = /^-(?:\d|\.\d)/;

/**
 * node:util's parseArgs for a tuneloop command, with two differences the command line's users need:
 * an option's value may be a negative number (`--temperature -1` gives "-1" to --temperature, whose own
 * check then judges it), and every mistake is an InvalidInputError that names the user's flag and
 * points at `tuneloop COMMAND --help`, instead of parseArgs' own wording. `context`, when given, says
 * which form of the command was parsed (e.g. "for an assertion suite"), for commands whose options
 * depend on their input.
 */
export function parseOptions<T extends ParseArgsConfig>(command: string, config: T, context?: string): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {};
  const args = config.args ?? [];
  const help = `tuneloop ${command} --help`;
  // A lenient pass first: its tokens say what the user wrote, so each mistake can be named exactly.
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const seen = new Set<string>();
  const normalized: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      normalized.push(...args.slice(token.index));
      break;
    }
    if (token.kind === 'positional') {
      if (!config.allowPositionals) {
        throw new InvalidInputError(`"${token.value}"`, `tuneloop ${command} takes no arguments besides its options${context ? ` ${context}` : ''}; ${help} lists them`);
      }
      normalized.push(token.value);
      continue;
    }
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!option) throw new InvalidInputError(token.rawName, `is not an option of tuneloop ${command}${context ? ` ${context}` : ''}; ${help} lists them`);
    if (seen.has(token.name) && !option.multiple) throw new InvalidInputError(token.rawName, 'is given twice; give it once');
    seen.add(token.name);
    if (option.type === 'boolean') {
      if (token.inlineValue) throw new InvalidInputError(token.rawName, `is a switch and takes no value, got "${token.rawName}=${token.value}"`);
      normalized.push(token.rawName);
      continue;
    }
    const value = token.value;
    if (value === undefined) throw new InvalidInputError(token.rawName, 'needs a value');
    if (!token.inlineValue && value.startsWith('-') && !NEGATIVE_NUMBER.test(value)) {
      // parseArgs took the next option as this one's value: the value was most likely forgotten.
      throw new InvalidInputError(token.rawName, `needs a value, but the next argument is "${value}"; if that is the value, write ${token.rawName}=${value}`);
    }
    // The inline form keeps a dash-led value from being read as an option by the strict pass.
    normalized.push(`--${token.name}=${value}`);
  }
  return parseArgs({ ...config, args: normalized, strict: true }) as ReturnType<typeof parseArgs<T>>;
}
