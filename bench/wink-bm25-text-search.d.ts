// Minimal types for the peer library used only by bench/bm25.ts (it ships none).
declare module 'wink-bm25-text-search' {
  interface WinkBm25 {
    defineConfig(cfg: {
      fldWeights: Record<string, number>;
      bm25Params?: { k1?: number; b?: number; k?: number };
    }): boolean;
    definePrepTasks(tasks: ((input: string) => string[])[], field?: string): number;
    addDoc(doc: Record<string, string>, id: number | string): number;
    consolidate(fp?: number): boolean;
    search(text: string, limit?: number): [number | string, number][];
  }
  function winkBm25(): WinkBm25;
  export default winkBm25;
}
