/**
 * Prints the configuration reference generated from the schema.
 * Regenerate the checked-in copy with: npx tsx scripts/gen-config-doc.ts > docs/config.md
 * (a unit test fails while docs/config.md differs from the schema).
 */
import { configReference } from '../src/config/index.js';

process.stdout.write(configReference());
