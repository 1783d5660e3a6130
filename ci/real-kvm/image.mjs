// Builds the test-bed guest's initramfs: a static busybox for /init, kvm.ko and what it needs,
// Debian's s390x Node with its libraries, and the project tree (ci/lib/s390x-tree.sh) at
// /opt/kvm-s390. Parts a test never reads (documentation, headers, the TypeScript compiler, host
// builds of native packages) stay out, which keeps the archive and the guest's RAM small.
// Usage: node image.mjs --busybox F --sysroot D --tree D --kernel-dir D --init F --out F [--env K=V]... [--selftest F]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    busybox: { type: 'string' },
    sysroot: { type: 'string' },
    tree: { type: 'string' },
    'kernel-dir': { type: 'string' },
    init: { type: 'string' },
    out: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    selftest: { type: 'string' },
  },
});
const quote = (v) => `'${v.replaceAll("'", "'\\''")}'`;
const env = o.env.map((kv) => {
  const eq = kv.indexOf('=');
  return `${kv.slice(0, eq)}=${quote(kv.slice(eq + 1))}`;
});
const modules = readFileSync(join(o['kernel-dir'], 'modules', 'ORDER'), 'utf8').split('\n').filter(Boolean);

const manifest = [
  ...['dev', 'proc', 'sys', 'tmp', 'bin', 'etc'].map((path) => ({ path, dir: true })),
  { path: 'dev/console', char: [5, 1] },
  { path: 'dev/null', char: [1, 3] },
  { path: 'bin/busybox', file: o.busybox },
  { path: 'init', file: o.init },
  { path: 'etc/bed.env', text: env.join('\n') + '\n' },
  { path: 'modules/ORDER', text: modules.join('\n') + '\n' },
  ...modules.map((m) => ({ path: `modules/${m}.ko`, file: join(o['kernel-dir'], 'modules', `${m}.ko`) })),
  { path: 'lib', symlink: 'usr/lib' },
  { path: 'usr', tree: join(o.sysroot, 'usr'), skip: ['^usr/share/(doc|man|locale|lintian|bug)/', '^usr/include/'] },
  {
    path: 'opt/kvm-s390',
    tree: o.tree,
    skip: [
      '^opt/kvm-s390/node_modules/(typescript|prebuildify|cmake-js|node-gyp|@types|typedoc)(/|$)',
      '-linux-x64-gnu(/|$)',
      '-linux-x64-musl(/|$)',
      '^opt/kvm-s390/(bench|docs|\\.ci)(/|$)',
    ],
  },
];
if (o.selftest) manifest.push({ path: 'opt/selftest/memop', file: o.selftest });

const here = dirname(fileURLToPath(import.meta.url));
const r = spawnSync(process.execPath, [join(here, 'initramfs.mjs'), o.out], { input: JSON.stringify(manifest), stdio: ['pipe', 'inherit', 'inherit'] });
process.exit(r.status ?? 1);
