/** Writes the quick start's demo model (see src/models/demo-model.ts) to models/demo or the given directory. */
import { join } from 'node:path';
import { makeDemoModel } from '../src/models/demo-model.js';

const dir = process.argv[2] ?? join('models', 'demo');
const config = await makeDemoModel(dir);
process.stderr.write(
  config
    ? `demo model written to ${dir}: vocab ${config.vocabSize}, hidden ${config.hiddenSize}, ${config.numLayers} layers, ${config.numHeads} heads\n`
    : `demo model already at ${dir}\n`,
);
