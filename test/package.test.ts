// The package as a user installs it: `npm pack` once, the tarball installed into a fresh
// consumer project, and four consumers (CommonJS, ESM, TypeScript nodenext, TypeScript
// commonjs + node10) running the README's examples; then a no-compiler install on an
// architecture without a prebuild. Slow-ish (npm and tsc spawns), so everything shares one
// tarball and one consumer install.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureDistBuilt } from './support/dist.js';
import { asCommonJs, mismatches, readmeExamples } from './support/readme.js';

const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const NPM_CLI = path.join(path.dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js');
const examples = readmeExamples();
let tmp: string;
let tarball: string;
let consumer: string;

function run(command: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  if (r.status !== 0) {
    throw new Error(`${path.basename(command)} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${String(r.stdout)}\n${String(r.stderr)}`);
  }
  return String(r.stdout);
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return run(process.execPath, [NPM_CLI, ...args], { cwd, env: { ...env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
}

/** Writes a consumer sub-project (its own package.json and files) under the installed root. */
function project(name: string, files: Record<string, string>): string {
  const dir = path.join(consumer, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  return dir;
}

function expectExamplesRan(dir: string, ext: string, lang: 'js' | 'ts' | 'both'): void {
  const ran = examples.filter((e) => lang === 'both' || e.lang === lang);
  expect(ran.length).toBeGreaterThan(0);
  const problems = ran.flatMap((e) => mismatches(e, run(process.execPath, [path.join(dir, `${e.name}.${ext}`)], { cwd: dir })));
  expect(problems).toEqual([]);
}

// The TypeScript consumers compile with lib ES2022 and no @types: the package's declarations
// must stand alone. The examples' own host globals are declared here, as a consumer would.
const HOST_GLOBALS = `declare const console: { log(...data: unknown[]): void };
declare class TextEncoder { encode(s: string): Uint8Array }
declare class TextDecoder { decode(b: Uint8Array): string }
`;
// Types the runtime has: a compile-time check that the exported types say so.
const TYPE_CHECKS = `import { AccessException, KvmError, MEMOP, PGM, PageTableBuilder, openBackend, type MemOpCode, type MemOpDesc, type PgmCode, type VcpuStateChange, type Vm } from 'kvm-s390';
const viaNumber: MemOpDesc = { op: MEMOP.ABSOLUTE_READ, gaddr: 0x1000, size: 8 };
const viaBigint: MemOpDesc = { op: MEMOP.ABSOLUTE_READ, gaddr: 0x1000n, size: 8 };
const op: MemOpCode = MEMOP.ABSOLUTE_CMPXCHG;
const pgm: PgmCode = PGM.PROTECTION;
const errno: KvmError['code'] = 'E2BIG';
// @ts-expect-error KvmError['code'] is the errno union, not any string
const notErrno: KvmError['code'] = 'PGM_PROTECTION';
const pgmName: AccessException['code'] = 'PGM_ADDRESSING';
const change: VcpuStateChange = { psw: { mask: 0x0400000180000000n, addr: 0 }, cr: new Array<number | bigint>(16).fill(0), prefix: 0x2000 };
export function tablesFor(vm: Vm): bigint {
  return new PageTableBuilder(vm, { tableArea: { start: 0x1000000, end: 0x1400000 } }).map(0x7f0000000000n, 0x10000, 0x200000).asce;
}
export function explain(err: KvmError): string | null {
  return err.reasonIsLikely ? \`likely \${err.reason}\` : err.reason;
}
export const values = [viaNumber, viaBigint, op, pgm, errno, notErrno, pgmName, change];
export const open = openBackend;
`;

function tsProject(name: string, pkg: object, compilerOptions: Record<string, unknown>): string {
  const files: Record<string, string> = {
    'package.json': JSON.stringify(pkg),
    'host.d.ts': HOST_GLOBALS,
    'types.ts': TYPE_CHECKS,
    'tsconfig.json': JSON.stringify({
      compilerOptions: { target: 'ES2022', lib: ['ES2022'], types: [], strict: true, skipLibCheck: false, outDir: 'out', rootDir: '.', ...compilerOptions },
      include: ['*.ts'],
    }),
  };
  for (const e of examples) files[`${e.name}.ts`] = `${e.code}\nexport {};\n`;
  const dir = project(name, files);
  run(process.execPath, [TSC, '-p', dir], { cwd: dir });
  return dir;
}

beforeAll(() => {
  ensureDistBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kvm-s390-package-'));
  // --ignore-scripts: dist is built already; `prepare` would only build it again.
  const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT)) as Array<{ filename: string }>;
  tarball = path.join(tmp, packed[0]!.filename);
  consumer = path.join(tmp, 'consumer');
  mkdirSync(consumer);
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  npm(['install', '--prefer-offline', tarball], consumer);
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package in a fresh consumer project', () => {
  it('has README examples to run, with annotations', () => {
    expect(examples.map((e) => e.name)).toEqual(expect.arrayContaining(['absolute', 'logical', 'using']));
    for (const e of examples) expect(e.expected.length, e.name).toBeGreaterThan(0);
  });

  it('an ES module consumer imports it and runs the README examples', () => {
    const files = Object.fromEntries(examples.filter((e) => e.lang === 'js').map((e) => [`${e.name}.mjs`, e.code]));
    expectExamplesRan(project('esm', { 'package.json': '{"type":"module"}', ...files }), 'mjs', 'js');
  });

  it('a CommonJS consumer require()s it and runs the README examples', () => {
    const files = Object.fromEntries(examples.filter((e) => e.lang === 'js').map((e) => [`${e.name}.cjs`, asCommonJs(e.code)]));
    const dir = project('cjs', { 'package.json': '{"type":"commonjs"}', ...files });
    for (const e of examples.filter((x) => x.lang === 'js')) expect(readFileSync(path.join(dir, `${e.name}.cjs`), 'utf8')).toContain("require('kvm-s390')");
    expectExamplesRan(dir, 'cjs', 'js');
    const exported = run(process.execPath, ['-p', "Object.keys(require('kvm-s390')).length"], { cwd: dir });
    expect(Number(exported)).toBeGreaterThan(20);
  });

  it('a TypeScript nodenext consumer (lib ES2022, types []) type-checks and runs every example', () => {
    const dir = tsProject('ts-nodenext', { type: 'module' }, { module: 'NodeNext', moduleResolution: 'NodeNext' });
    expectExamplesRan(path.join(dir, 'out'), 'js', 'both');
  });

  it('a TypeScript commonjs + node10 consumer (lib ES2022, types []) type-checks and runs every example', () => {
    const dir = tsProject('ts-node10', { type: 'commonjs' }, { module: 'CommonJS', moduleResolution: 'node10' });
    expect(readFileSync(path.join(dir, 'out/absolute.js'), 'utf8')).toContain('require("kvm-s390")');
    expectExamplesRan(path.join(dir, 'out'), 'js', 'both');
  });

  it('a TypeScript bundler consumer (module preserve) type-checks every example', () => {
    tsProject('ts-bundler', { type: 'module' }, { module: 'Preserve', moduleResolution: 'bundler', noEmit: true });
  });

  it('ships LICENSE, CHANGELOG and docs, no source maps pointing at unshipped sources, and runs on any OS', () => {
    const installed = path.join(consumer, 'node_modules/kvm-s390');
    const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.os).toBeUndefined();
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(path.join(installed, 'LICENSE'), 'utf8')).toContain('Copyright (c) 2026 kvm-s390 contributors');
    expect(readFileSync(path.join(installed, 'CHANGELOG.md'), 'utf8')).toMatch(/^## \[Unreleased\]$/m);
    for (const field of ['repository', 'homepage', 'bugs']) expect(JSON.stringify(pkg[field]), field).toContain('github.com/kvm-s390/kvm-s390');
    for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'docs/architecture.md', 'scripts/install.mjs']) {
      expect(() => readFileSync(path.join(installed, file)), file).not.toThrow();
    }
    // No source maps: they pointed at src/, which is not shipped (the JavaScript tsc emits
    // reads like the source, and the tarball stays lean).
    const shipped = readdirSync(path.join(installed, 'dist'), { recursive: true, encoding: 'utf8' });
    expect(shipped.filter((f) => f.endsWith('.map'))).toEqual([]);
    const js = shipped.filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(20);
    for (const file of js) expect(readFileSync(path.join(installed, 'dist', file), 'utf8'), file).not.toContain('sourceMappingURL');
  });
});

describe('installing where no prebuild fits and no compiler exists', () => {
  it('succeeds with the install script allowed, explains quietly, and the emulated backend runs', () => {
    // A PATH with node and the shell npm runs scripts with, nothing else: no python3, make or
    // C++ compiler for node-gyp.
    const bin = path.join(tmp, 'bare-bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    symlinkSync('/bin/sh', path.join(bin, 'sh'));
    const dir = path.join(tmp, 'foreign');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'foreign', private: true, allowScripts: { "kvm-s390": true } }));
    cpSync(tarball, path.join(dir, 'kvm-s390.tgz'));
    const env: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: bin, npm_config_arch: 'arm64', npm_config_cache: process.env.npm_config_cache };
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
    // --foreground-scripts shows the install script's note, which proves it ran.
    const out = spawnSync(process.execPath, [NPM_CLI, 'install', '--prefer-offline', '--foreground-scripts', './kvm-s390.tgz'], {
      cwd: dir,
      env: { ...env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(out.status, `${out.stdout}\n${out.stderr}`).toBe(0);
    const log = `${out.stdout}${out.stderr}`;
    expect(log).toContain('no prebuilt addon fits linux-arm64');
    expect(log).toMatch(/python3, make, a C\+\+ compiler are missing/);
    expect(readdirSync(path.join(dir, 'node_modules/kvm-s390'))).not.toContain('build');
    const program = `import { openBackend } from 'kvm-s390';
const backend = openBackend();
const vm = backend.createVm({ memorySize: 1 << 20 });
vm.write(0x10, Uint8Array.of(7, 8));
console.log(backend.kind, vm.read(0x10, 2).join(','));
vm.close();
backend.close();`;
    writeFileSync(path.join(dir, 'main.mjs'), program);
    expect(run(process.execPath, ['main.mjs'], { cwd: dir, env }).trim()).toBe('emulated 7,8');
  });
});

describe('the install step with a toolchain whose build fails', () => {
  it('exits 0 and says why in one note', () => {
    // A package root with the install script and no prebuild; python3, make and g++ exist
    // (stand-ins), and node-gyp fails as it does without network for the Node headers.
    const dir = path.join(tmp, 'failing-build');
    const bin = path.join(dir, 'bin');
    mkdirSync(path.join(dir, 'scripts'), { recursive: true });
    mkdirSync(bin);
    cpSync(path.join(ROOT, 'scripts/install.mjs'), path.join(dir, 'scripts/install.mjs'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'kvm-s390', type: 'module' }));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    for (const tool of ['python3', 'make', 'g++']) writeFileSync(path.join(bin, tool), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const fakeGyp = path.join(dir, 'fake-node-gyp.cjs');
    writeFileSync(fakeGyp, "console.error('gyp ERR! stack Error: the Node headers could not be downloaded');\nconsole.error('gyp ERR! stack     at install (x.js:1:1)');\nprocess.exit(1);\n");
    const r = spawnSync(process.execPath, [path.join(dir, 'scripts/install.mjs')], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}`, npm_config_arch: 'arm64', npm_config_node_gyp: fakeGyp },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('kvm-s390: no prebuilt addon fits linux-arm64 and node-gyp rebuild failed: the Node headers could not be downloaded');
    expect(r.stderr).toContain("openBackend({ kind: 'kvm' }) explains");
  });
});
