/**
 * "Did you mean …?" for misspelt option names: the closest name or alias by edit distance (optimal string
 * alignment, so a swapped pair of letters such as `procesess` → `processes` costs 1), within a distance that
 * grows with the length of the word.
 */
import {allOptionNames} from '../options.js';

/**
 * The candidate closest to `word`, or undefined when none is close enough. Ties go to the longer candidate (a
 * full name reads better than a one-letter alias), then alphabetical order, so the answer is stable.
 */
export function suggestName(word: string, candidates: readonly string[] = allOptionNames()): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: {name: string; distance: number} | undefined;
  for (const name of candidates) {
    // One-letter aliases only make sense as suggestions for one- or two-letter words.
    if (name.length === 1 && word.length > 2) continue;
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (distance > limit || (distance === 0 && name === word)) continue;
    if (best === undefined || distance < best.distance || (distance === best.distance && isBetterTie(name, best.name))) {
      best = {name, distance};
    }
  }
  return best?.name;
}

/** ` (did you mean "processes"?)`, or an empty string when there is no suggestion; `prefix` is e.g. `--`. */
export function didYouMean(word: string, candidates?: readonly string[], prefix = ''): string {
  const suggestion = suggestName(word, candidates);
  return suggestion === undefined ? '' : ` (did you mean "${prefix}${suggestion}"?)`;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}

function isBetterTie(name: string, current: string): boolean {
  if (name.length !== current.length) return name.length > current.length;
  return name < current;
}
