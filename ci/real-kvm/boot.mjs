// Boots one s390x Linux kernel with an initramfs under Hercules and collects what the guest
// printed: the console log, and files the guest sent back as base64 between marker lines
//   KVMS390-FILE-BEGIN <name>   …base64…   KVMS390-FILE-END <name>
// (Hercules' log mangles brackets, so nothing the host must parse goes through it raw). The run
// ends when the guest prints KVMS390-DONE <exit status>, or at the time limit.
// Usage: node boot.mjs --hercules DIR --kernel VMLINUZ --initrd CPIO --out DIR [--timeout S] [--mainsize MiB]
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    hercules: { type: 'string' },
    kernel: { type: 'string' },
    initrd: { type: 'string' },
    out: { type: 'string' },
    timeout: { type: 'string', default: '1800' },
    mainsize: { type: 'string', default: '2048' },
    cmdline: { type: 'string', default: 'console=ttyS0 rdinit=/init panic=-1 quiet' },
  },
});
for (const k of ['hercules', 'kernel', 'initrd', 'out']) if (!opt[k]) throw new Error(`boot.mjs: --${k} is required`);

/** Where the s390 boot code looks for the initrd and the command line (arch/s390 parmarea). */
const INITRD_LOAD = 0x04000000;
const PARM_INITRD_START_LOW = 0x1040c;
const PARM_INITRD_SIZE_LOW = 0x10414;
const PARM_COMMAND_LINE = 0x10480;

export function bootFiles(dir, { kernel, initrd, cmdline }) {
  const be32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const size = statSync(initrd).size;
  if (size > 0xffffffff) throw new Error('initrd over 4 GiB');
  writeFileSync(join(dir, 'initrd-start.bin'), be32(INITRD_LOAD));
  writeFileSync(join(dir, 'initrd-size.bin'), be32(size));
  writeFileSync(join(dir, 'cmdline.bin'), Buffer.from(cmdline + '\0'));
  const hex = (n) => '0x' + n.toString(16).padStart(8, '0');
  // Hercules loads .ins entries only from the .ins file's own folder (a symbolic link out of it is
  // refused): hard-link the inputs there, or copy them across file systems.
  for (const [from, to] of [[kernel, 'kernel'], [initrd, 'initrd']]) {
    try {
      linkSync(from, join(dir, to));
    } catch {
      copyFileSync(from, join(dir, to));
    }
  }
  writeFileSync(
    join(dir, 'boot.ins'),
    [
      `kernel 0x00000000`,
      `initrd ${hex(INITRD_LOAD)}`,
      `initrd-start.bin ${hex(PARM_INITRD_START_LOW)}`,
      `initrd-size.bin ${hex(PARM_INITRD_SIZE_LOW)}`,
      `cmdline.bin ${hex(PARM_COMMAND_LINE)}`,
      '',
    ].join('\n'),
  );
}

const work = mkdtempSync(join(tmpdir(), 'kvm-s390-boot-'));
mkdirSync(opt.out, { recursive: true });
bootFiles(work, { ...opt, kernel: resolve(opt.kernel), initrd: resolve(opt.initrd) });
writeFileSync(
  join(work, 'hercules.cnf'),
  ['ARCHLVL z/Arch', 'NUMCPU 1', `MAINSIZE ${opt.mainsize}`, 'LPARNAME KVMS390', 'PANOPT RATE=SLOW',
    // Linux takes program interruptions all the time (page faults, probes): don't log each one.
    'OSTAILOR LINUX', ''].join('\n'),
);
writeFileSync(
  join(work, 'hercules.rc'),
  ['hao tgt KVMS390-DONE', 'hao cmd exit', `ipl ${join(work, 'boot.ins')}`, ''].join('\n'),
);

const started = Date.now();
const child = spawn(join(opt.hercules, 'bin', 'hercules'), ['-d', '-f', join(work, 'hercules.cnf'), '-r', join(work, 'hercules.rc')], {
  cwd: work,
  // Hercules reads commands from stdin and shuts down at its end: keep it open, never write.
  stdio: ['pipe', 'pipe', 'pipe'],
  env: { ...process.env, LD_LIBRARY_PATH: join(opt.hercules, 'lib') },
});
let log = '';
/** Hercules messages after which the guest can never print its last line. */
const HOPELESS = /HHC00602E|HHC00809I Processor CP00: disabled wait|HHC00828I|HHC00006I SCLP console interface inactive|Kernel panic/;
const consolePath = join(opt.out, 'console.log');
writeFileSync(consolePath, '');
const onData = (d) => {
  log += d;
  appendFileSync(consolePath, d); // live, for whoever watches a long run
  if (HOPELESS.test(d.toString())) setTimeout(() => child.kill('SIGKILL'), 2000);
};
child.stdout.on('data', onData);
child.stderr.on('data', onData);
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  child.kill('SIGKILL');
}, Number(opt.timeout) * 1000);
const exitCode = await new Promise((resolve) => child.on('close', resolve));
clearTimeout(timer);
rmSync(work, { recursive: true, force: true });

const files = {};
let current = null;
let done = null;
for (const raw of log.split('\n')) {
  const line = raw.replace(/^\d\d:\d\d:\d\d /, '').replace(/^HHC\d+I /, '').trim();
  let m;
  if ((m = /KVMS390-FILE-BEGIN (\S+)/.exec(line))) current = { name: m[1], chunks: [] };
  else if ((m = /KVMS390-FILE-END (\S+)/.exec(line))) {
    if (current && current.name === m[1]) files[m[1]] = Buffer.from(current.chunks.join(''), 'base64');
    current = null;
  } else if ((m = /KVMS390-DONE (\d+)/.exec(line))) done = Number(m[1]);
  else if (current && /^[A-Za-z0-9+/=]+$/.test(line)) current.chunks.push(line);
}
for (const [name, bytes] of Object.entries(files)) writeFileSync(join(opt.out, name), bytes);
const seconds = Math.round((Date.now() - started) / 1000);
writeFileSync(join(opt.out, 'boot.json'), JSON.stringify({ seconds, timedOut, herculesExit: exitCode, guestStatus: done, files: Object.keys(files) }, null, 2));
console.log(`boot: ${seconds} s, guest status ${done ?? 'none'}${timedOut ? ', TIMED OUT' : ''}, files: ${Object.keys(files).join(' ') || 'none'}`);
process.exit(done === null ? 2 : 0);
