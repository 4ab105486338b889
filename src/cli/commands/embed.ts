/** quiver embed | models */
import type { Command } from 'commander';
import { createEmbedder, listModels } from '../../embed/index.js';
import type { EmbedRole } from '../../embed/embedder.js';
import { QuiverError } from '../../errors.js';
import { parseIntOption, printJson, table } from '../common.js';

export function registerEmbedCommands(program: Command): void {
  program
    .command('embed')
    .argument('<text...>', 'text to embed')
    .requiredOption('--model <name>', 'registry model name (e.g. intfloat/e5-small-v2, static:glove-100)')
    .option('--model-dir <dir>', 'local folder with tokenizer.json and onnx/model.onnx')
    .option('--query', 'embed as a query (E5: "query: " prefix; instruct models: the task instruction)')
    .option('--passage', 'embed as a passage/document (E5: "passage: " prefix)')
    .option('--symmetric', 'embed for a symmetric task such as STS (E5: "query: " on both sides)')
    .option('--task <instruction>', 'task instruction for instruct models')
    .option(
      '--dimensions <n>',
      'Matryoshka truncation to the first n dimensions',
      parseIntOption('--dimensions'),
    )
    .option('--explain', 'include the exact model input and token ids')
    .option('--json', 'print JSON (default)')
    .description('embed one text with a model’s exact conventions and print the vector')
    .action(
      async (
        words: string[],
        o: {
          model: string;
          modelDir?: string;
          query?: boolean;
          passage?: boolean;
          symmetric?: boolean;
          task?: string;
          dimensions?: number;
          explain?: boolean;
        },
      ) => {
        const roles = [o.query && 'query', o.passage && 'document', o.symmetric && 'symmetric'].filter(
          Boolean,
        ) as EmbedRole[];
        if (roles.length > 1) {
          throw new QuiverError('INVALID_ARGUMENT', 'give only one of --query, --passage, --symmetric', {
            location: { field: 'role' },
          });
        }
        const role: EmbedRole = roles[0] ?? 'query';
        const text = words.join(' ');
        const embedder = await createEmbedder(o.model, o.modelDir ? { modelDir: o.modelDir } : {});
        try {
          const opts = {
            role,
            ...(o.task ? { task: o.task } : {}),
            ...(o.dimensions ? { dimensions: o.dimensions } : {}),
          };
          const [vector] = await embedder.embed([text], opts);
          const out: Record<string, unknown> = { model: embedder.modelId, role };
          if (o.explain) {
            const ex = await embedder.explain(text, opts);
            out['input'] = ex.input;
            if (ex.ids) out['ids'] = ex.ids;
            if (ex.truncated !== undefined) out['truncated'] = ex.truncated;
          } else {
            out['input'] = embedder.formatInputs([text], opts)[0];
          }
          out['dims'] = vector!.length;
          out['vector'] = Array.from(vector!);
          printJson(out);
        } finally {
          await embedder.close();
        }
      },
    );

  program
    .command('models')
    .description('list the registered embedding models and their conventions')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const models = listModels();
      if (o.json) {
        printJson(models);
        return;
      }
      const rows: (string | number)[][] = [
        ['model', 'provider', 'dims', 'max tokens', 'pooling', 'query prefix / instruction'],
      ];
      for (const m of models) {
        rows.push([
          m.name,
          m.provider,
          m.dims,
          m.maxTokens,
          m.pooling,
          JSON.stringify(m.instructionTemplate ?? m.prefixes?.query ?? ''),
        ]);
      }
      process.stdout.write(`${table(rows)}\n`);
    });
}
