// The single place that loads the native addon. Order: $KVM_S390_ADDON (a path to a
// kvm_s390.node), else node-gyp-build over the package root (build/Release first, then
// prebuilds/<platform>-<arch>/). A failure is explained in words: what was tried, why it
// failed, and what to do; its errno says which kind of failure it was.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRNO } from '../abi/constants.js';
import type { NativeAddon } from './native.js';

const require = createRequire(import.meta.url);

/** The package root: src/kvm/ and dist/kvm/ both sit two levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const ADDON_ENV = 'KVM_S390_ADDON';

export class AddonLoadError extends Error {
  override readonly name = 'AddonLoadError';
  /**
   * What went wrong, as an errno: ENOENT no such file, EACCES not readable, ENOEXEC not a
   * native addon for this platform (not a .node file, not a shared object, wrong ELF class),
   * ELIBBAD a shared object that is not this addon or does not load (missing symbols).
   */
  readonly errno: number;
  constructor(message: string, errno: number, options?: { cause?: unknown }) {
    super(message, options);
    this.errno = errno;
  }
}

/** The errno that names why loading failed, from the loader's error. */
function errnoOf(cause: unknown): number {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (code === 'ENOENT' || code === 'MODULE_NOT_FOUND' || /No such file or directory|Cannot find module/.test(message)) return ERRNO.ENOENT;
  if (code === 'EACCES' || /Permission denied/.test(message)) return ERRNO.EACCES;
  if (code === 'ENOEXEC' || /invalid ELF header|wrong ELF class|file too short|not a dynamic|ELF file|only ET_DYN/i.test(message)) return ERRNO.ENOEXEC;
  return ERRNO.ELIBBAD;
}

/**
 * Loads `file` as a native addon only: never as JavaScript, whatever it contains. A name that
 * does not end in .node is refused before the file is opened.
 */
function loadNativeFile(file: string): NativeAddon {
  if (!file.endsWith('.node')) {
    throw Object.assign(new Error(`"${file}" is not a .node file; only a native addon (kvm_s390.node) is loaded from ${ADDON_ENV}`), { code: 'ENOEXEC' });
  }
  const module = { exports: {} as unknown };
  process.dlopen(module, path.resolve(file));
  const addon = module.exports as Partial<NativeAddon>;
  if (typeof addon.memop !== 'function' || typeof addon.abi !== 'function') {
    throw new Error(`${file} loaded but is not the kvm-s390 addon (it has no memop/abi exports)`);
  }
  return addon as NativeAddon;
}

let cached: { addon: NativeAddon } | { error: AddonLoadError } | undefined;

function explain(tried: string, cause: unknown): AddonLoadError {
  const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  const platform = `${process.platform}-${process.arch}`;
  const lines = [
    `Could not load the kvm-s390 native addon (${tried}) on ${platform}, Node ${process.version}, N-API ${process.versions.napi}.`,
    `Cause: ${why}`,
    'Possible solutions:',
  ];
  if (process.env[ADDON_ENV]) {
    lines.push(`- ${ADDON_ENV} is set: check that it names a kvm_s390.node built for ${platform}, or unset it.`);
  }
  if (process.platform !== 'linux') {
    lines.push('- The addon exists for Linux only; on this OS use the emulated backend: openBackend({ kind: "emulated" }).');
  } else {
    lines.push(
      `- Prebuilt binaries ship for linux-x64 and linux-s390x; for ${platform} reinstall with a compiler present so it is built:`,
      '    npm_config_build_from_source=true npm install kvm-s390',
      '  (needs python3, make and a C++17 compiler, e.g. apt-get install -y python3 make g++)',
      `- Or build it yourself (npx node-gyp rebuild, or npx cmake-js compile) and point ${ADDON_ENV} at the .node file.`,
      '- The emulated backend needs no addon: openBackend({ kind: "emulated" }).',
    );
  }
  return new AddonLoadError(lines.join('\n'), errnoOf(cause), { cause });
}

/** The addon, loaded once. Throws AddonLoadError with an explanation when it cannot be loaded. */
export function loadAddon(): NativeAddon {
  if (cached === undefined) {
    const override = process.env[ADDON_ENV];
    try {
      // The addon is a Linux binary (KVM ioctls): elsewhere it is never looked for, so a
      // package installed on macOS or Windows touches no native code at all.
      if (process.platform !== 'linux') throw new Error(`no native addon on ${process.platform}: KVM is a Linux interface`);
      if (override) {
        cached = { addon: loadNativeFile(override) };
      } else {
        const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
        cached = { addon: nodeGypBuild(PACKAGE_ROOT) as NativeAddon };
      }
    } catch (err) {
      cached = { error: explain(override ? `${ADDON_ENV}=${override}` : `node-gyp-build in ${PACKAGE_ROOT}`, err) };
    }
  }
  if ('error' in cached) throw cached.error;
  return cached.addon;
}
