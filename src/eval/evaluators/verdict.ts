/**
 * Reading a judge's answer. Judges are asked for JSON, but models wrap it in prose or code fences, answer
 * "PASS" in words, or give "8/10"; these parsers accept those forms and say plainly when an answer holds
 * no usable verdict, rather than guessing one.
 */

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export interface GradeVerdict {
  /** The judge's pass/fail, when it gave one. */
  readonly pass?: boolean;
  /** In [0, 1], when the judge gave a score. */
  readonly score?: number;
  readonly reason: string;
}

/**
 * A grade from an answer such as `{"reason": "...", "pass": true, "score": 0.8}` (anywhere in the text),
 * or in words: `Verdict: PASS`, `Score: 0.8`, `Score: 8/10`, or a lone PASS/FAIL. A JSON score outside
 * [0, 1] is refused, not rescaled: a 7 could be out of 10 or out of 100.
 */
export function parseGradeVerdict(answer: string): Parsed<GradeVerdict> {
  for (const object of jsonObjectsIn(answer)) {
    if (!('pass' in object) && !('score' in object) && !('verdict' in object)) continue;
    const pass = booleanVerdict(object.pass ?? object.verdict);
    const rawScore = object.score;
    let score: number | undefined;
    if (rawScore !== undefined && rawScore !== null) {
      score = typeof rawScore === 'number' ? rawScore : typeof rawScore === 'string' && rawScore.trim() !== '' ? Number(rawScore) : NaN;
      if (!Number.isFinite(score) || score < 0 || score > 1) return { ok: false, problem: `the score ${JSON.stringify(rawScore)} is not a number in [0, 1]` };
    }
    if (pass === undefined && score === undefined) return { ok: false, problem: `the JSON verdict has neither a true/false "pass" nor a numeric "score": ${JSON.stringify(object)}` };
    const reason = typeof object.reason === 'string' ? object.reason : answer.trim();
    return { ok: true, value: { pass, score, reason } };
  }

  const scoreMatch = lastMatch(answer, /\bscore\s*[:=]?\s*(\d+(?:\.\d+)?)\s*(?:(?:\/|out of)\s*(\d+(?:\.\d+)?))?/gi);
  let score: number | undefined;
  if (scoreMatch) {
    const value = Number(scoreMatch[1]);
    const scale = scoreMatch[2] === undefined ? 1 : Number(scoreMatch[2]);
    if (scale > 0 && value <= scale) score = value / scale;
    else return { ok: false, problem: `the score "${scoreMatch[0].trim()}" is not in [0, 1] and names no scale it is out of` };
  }
  const labelled = lastMatch(answer, /\b(?:verdict|result|grade|answer)\s*[:=]\s*\**\s*(pass|fail|passed|failed|yes|no|true|false)\b/gi);
  const bare = [...new Set([...answer.matchAll(/\b(PASS|FAIL)\b/g)].map((m) => m[1]))];
  const pass = labelled ? booleanVerdict(labelled[1]) : bare.length === 1 ? bare[0] === 'PASS' : undefined;
  if (pass === undefined && score === undefined) {
    return { ok: false, problem: bare.length > 1 ? 'the answer says both PASS and FAIL' : 'the answer holds no verdict (no JSON with pass/score, no "Verdict: PASS|FAIL", no "Score: N")' };
  }
  return { ok: true, value: { pass, score, reason: answer.trim() } };
}

export type PairwiseChoice = 'A' | 'B' | 'tie';

/**
 * Which of two responses a judge preferred, from `[[A]]`, `[[B]]` or `[[C]]`/`[[TIE]]` (the MT-Bench
 * convention), JSON such as `{"winner": "B"}`, a `Winner: A` line, or an answer that is only `A`, `B` or
 * `tie`. Two different bracketed verdicts in one answer are refused as ambiguous.
 */
export function parsePairwiseVerdict(answer: string): Parsed<PairwiseChoice> {
  for (const object of jsonObjectsIn(answer)) {
    const field = object.winner ?? object.verdict ?? object.choice ?? object.better;
    if (field === undefined) continue;
    const choice = typeof field === 'string' ? pairwiseChoice(field) : undefined;
    if (choice) return { ok: true, value: choice };
    return { ok: false, problem: `the JSON verdict ${JSON.stringify(field)} is not A, B or tie` };
  }
  const bracketed = [...new Set([...answer.matchAll(/\[\[\s*([A-Za-z]+)\s*\]\]/g)].map((m) => pairwiseChoice(m[1])).filter((c) => c !== undefined))];
  if (bracketed.length === 1) return { ok: true, value: bracketed[0] };
  if (bracketed.length > 1) return { ok: false, problem: `the answer gives several verdicts: ${bracketed.map((c) => `[[${c}]]`).join(', ')}` };
  // "Winner: B", "The better response is A"; a lower-case "a" is an article, not a verdict.
  const labelled = [...answer.matchAll(/\b(?:winner|verdict|better response|choice)\s*(?::|=|\bis\b)\s*\**\s*(?:response |assistant )?(a|b|tie)\b/gi)]
    .map((m) => m[1])
    .filter((c) => c === 'A' || c === 'B' || c.toLowerCase() === 'tie');
  if (labelled.length > 0) return { ok: true, value: pairwiseChoice(labelled[labelled.length - 1])! };
  const whole = pairwiseChoice(answer.trim().replace(/^[\s*"'`(]+|[\s*"'`).!]+$/g, ''));
  if (whole) return { ok: true, value: whole };
  return { ok: false, problem: 'the answer names no winner (expected [[A]], [[B]] or [[C]] for a tie)' };
}

function pairwiseChoice(text: string): PairwiseChoice | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'a' || t === 'response a' || t === 'assistant a') return 'A';
  if (t === 'b' || t === 'response b' || t === 'assistant b') return 'B';
  if (t === 'tie' || t === 'c' || t === 'draw' || t === 'equal') return 'tie';
  return undefined;
}

function booleanVerdict(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const t = value.trim().toLowerCase();
  if (['pass', 'passed', 'yes', 'true'].includes(t)) return true;
  if (['fail', 'failed', 'no', 'false'].includes(t)) return false;
  return undefined;
}

function lastMatch(text: string, pattern: RegExp): RegExpMatchArray | undefined {
  let last: RegExpMatchArray | undefined;
  for (const m of text.matchAll(pattern)) last = m;
  return last;
}

/**
 * Every top-level `{...}` in the text that parses as a JSON object, in order. Braces inside JSON strings
 * are skipped, so a reason containing "}" does not cut the object short.
 */
export function jsonObjectsIn(text: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  let start = text.indexOf('{');
  while (start >= 0) {
    const end = matchingBrace(text, start);
    if (end < 0) break;
    try {
      const value = JSON.parse(text.slice(start, end + 1)) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        objects.push(value as Record<string, unknown>);
        start = text.indexOf('{', end + 1);
        continue;
      }
    } catch {
      // Not JSON from this brace: look for an object starting at the next one.
    }
    start = text.indexOf('{', start + 1);
  }
  return objects;
}

function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}
