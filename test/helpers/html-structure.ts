/**
 * A strict little HTML/SVG structure reader for generated reports (no parser dependency): every
 * non-void element must be closed in order, attributes must be quoted. Returns the element tree
 * flattened with tag, attributes and depth, so tests can look for ids and count elements.
 */
export interface ParsedElement {
  readonly tag: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly depth: number;
}

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
const SELF_CLOSING_OK = new Set(['rect', 'circle', 'line', 'path', 'polyline']);

export function parseHtmlStructure(html: string): ParsedElement[] {
  const elements: ParsedElement[] = [];
  const stack: string[] = [];
  const tagPattern = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z][a-zA-Z0-9:-]*="[^"]*")*)\s*(\/?)>|<!DOCTYPE html>|<!--[\s\S]*?-->/g;
  let last = 0;
  for (let m = tagPattern.exec(html); m !== null; m = tagPattern.exec(html)) {
    const between = html.slice(last, m.index);
    if (between.includes('<')) throw new Error(`unparsed markup near offset ${last}: ${JSON.stringify(between.slice(between.indexOf('<'), between.indexOf('<') + 40))}`);
    last = m.index + m[0].length;
    if (m[2] === undefined) continue;
    const [, closing, rawTag, attributeText, selfClosing] = m;
    const tag = rawTag.toLowerCase();
    if (closing) {
      const open = stack.pop();
      if (open !== tag) throw new Error(`</${tag}> closes <${open}> at offset ${m.index}`);
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const a of attributeText.matchAll(/([a-zA-Z][a-zA-Z0-9:-]*)="([^"]*)"/g)) attributes[a[1]] = a[2];
    elements.push({ tag, attributes, depth: stack.length });
    if (selfClosing) {
      if (!SELF_CLOSING_OK.has(tag)) throw new Error(`<${tag}/> cannot self-close`);
    } else if (!VOID.has(tag)) {
      stack.push(tag);
    }
  }
  if (html.slice(last).includes('<')) throw new Error('unparsed markup at the end');
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(' > ')}`);
  return elements;
}
