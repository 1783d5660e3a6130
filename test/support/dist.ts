// Tests that run the built package (dist/) rebuild it first when any source is newer: `npm test`
// builds once, and a direct `npx vitest run test/x.test.ts` after an edit still tests the edit.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Rebuilds dist/ with tsc when src/ changed after it was built. */
export function ensureDistBuilt(): void {
  const main = path.join(ROOT, 'dist/cli/main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(path.join(ROOT, 'src'))) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
}
