// The hash of everything a prebuild is compiled from. ci/prebuild.sh records it next to each
// prebuild (prebuilds/<platform>-<arch>/SOURCES.sha256); test/kvm-backend.test.ts fails when a
// committed prebuild was built from other sources than the ones in the tree.
// Usage: node ci/source-hash.mjs  → prints the hash.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export function sourceFiles(root = ROOT) {
  const native = readdirSync(join(root, 'native'))
    .filter((f) => /\.(cc|h)$/.test(f))
    .map((f) => `native/${f}`);
  return [...native, 'binding.gyp'].sort();
}

export function sourceHash(root = ROOT) {
  const h = createHash('sha256');
  for (const f of sourceFiles(root)) {
    // Line endings normalised so a checkout with CRLF hashes the same.
    const text = readFileSync(join(root, f), 'utf8').replace(/\r\n/g, '\n');
    h.update(`${f}\n${createHash('sha256').update(text).digest('hex')}\n`);
  }
  return h.digest('hex');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(sourceHash());
}
