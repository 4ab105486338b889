/** Deterministic document text for the crash test: the parent recomputes it to check integrity. */
export function expectedText(id: string): string {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
  // Sizes from tens of bytes to ~40 KB so some batches are large enough to be mid-write when killed.
  const repeats = 1 + (h % 1000);
  return `${id}: ${`payload ${h.toString(36)} ünï 😀 `.repeat(repeats)}`;
}
