/**
 * The Levenshtein edit distance: the fewest single-character insertions, deletions and substitutions
 * that turn `a` into `b`. Characters are Unicode code points, so an emoji counts as one character.
 */
export function levenshteinDistance(a: string, b: string): number {
  const s = Array.from(a);
  const t = Array.from(b);
  if (s.length < t.length) return levenshteinDistance(b, a);
  // One row of the dynamic-programming table over the shorter string.
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const substitution = previous[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[t.length];
}
