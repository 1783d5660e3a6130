#!/usr/bin/env node
// npm's install step for kvm-s390. It never fails the install because of the addon: the
// emulated backend needs no addon, and the loader explains at the first use of
// openBackend({ kind: 'kvm' }) why real KVM is unavailable. In order:
//   1. not Linux: nothing to do (KVM_S390_MEM_OP is a Linux interface);
//   2. a prebuild (or an earlier build/Release) that loads: done;
//   3. a toolchain (python3, make, a C++ compiler) on PATH: build with node-gyp;
//   4. otherwise, or when the build fails: one note on stderr (npm shows it only with
//      --foreground-scripts or on --loglevel verbose) and exit 0.
// npm_config_build_from_source=true skips step 2.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = `${process.env.npm_config_platform || process.platform}-${process.env.npm_config_arch || process.arch}`;

function note(message) {
  process.stderr.write(`kvm-s390: ${message}\nkvm-s390: the emulated backend works without it; openBackend({ kind: 'kvm' }) explains what real KVM needs.\n`);
}

function onPath(command) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** What the node-gyp build would miss, in words; empty when everything is there. */
function missingToolchain() {
  const missing = [];
  const python = process.env.npm_config_python || process.env.PYTHON;
  if (!(python ? onPath(path.basename(python)) || path.isAbsolute(python) : onPath('python3') || onPath('python'))) missing.push('python3');
  if (!onPath('make')) missing.push('make');
  const cxx = process.env.CXX;
  if (!(cxx ? onPath(cxx.split(' ')[0]) || path.isAbsolute(cxx.split(' ')[0]) : onPath('g++') || onPath('c++') || onPath('clang++'))) missing.push('a C++ compiler');
  return missing;
}

function prebuildLoads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

function nodeGypCommand() {
  const bundled = process.env.npm_config_node_gyp;
  if (bundled) return [process.execPath, bundled];
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return ['node-gyp'];
  }
}

/** node-gyp's error message (its "stack" lines before the trace), or a compiler's first error. */
function failureCause(output) {
  const lines = output.split('\n');
  const message = [];
  for (const line of lines) {
    const m = /^gyp ERR! stack (.*)$/.exec(line);
    if (!m) continue;
    if (/^\s*at /.test(m[1])) break;
    message.push(m[1].trim());
  }
  if (message.length > 0) return message.join(' ').replace(/^Error: /, '');
  return lines.find((line) => /\berror:/.test(line))?.trim() ?? '';
}

function main() {
  if ((process.env.npm_config_platform || process.platform) !== 'linux') return;
  const fromSource = process.env.npm_config_build_from_source === 'true';
  if (!fromSource && prebuildLoads()) return;
  const missing = missingToolchain();
  if (missing.length > 0) {
    note(`no prebuilt addon fits ${target} and ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing, so the addon was not built.`);
    return;
  }
  const [command, ...args] = nodeGypCommand();
  // Bounded: a build that cannot fetch Node headers must not hold the install forever.
  const build = spawnSync(command, [...args, 'rebuild'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000 });
  if (build.status !== 0) {
    const cause = failureCause(`${build.stderr ?? ''}${build.stdout ?? ''}`);
    note(`no prebuilt addon fits ${target} and node-gyp rebuild failed${build.error ? ` (${build.error.message})` : ''}${cause ? `: ${cause}` : '.'}`);
  }
}

try {
  main();
} catch (err) {
  note(`the install step hit an unexpected error: ${err instanceof Error ? err.message : String(err)}`);
}
process.exitCode = 0;
