#!/usr/bin/env node
// The kvm-s390 command line: probe, conformance (with --differential), replay, explain.
// Exit status: 0 success; 1 a failing case, a disagreement or an unusable requested backend;
// 2 a usage error.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { KERNEL_PROFILES, type KernelProfile } from '../contract.js';
import { ArgumentRangeError, KvmError } from '../errors.js';
import { ScenarioError } from '../conformance/scenario.js';
import { conformanceCommand } from './conformance.js';
import { chooseSides, formatDisagreement, formatSummary, runDifferential, summaryJson, unexplained } from '../conformance/differential.js';
import { resolveChoice, type BackendChoice } from './backend-choice.js';
import { explainCommand } from './explain.js';
import { UsageError, parseNumber } from './format.js';
import { fixFor, probeCommand } from './probe.js';
import { replayCommand } from './replay.js';


function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

// Every command: --backend, else $KVM_S390_BACKEND, else auto; --profile, else $KVM_S390_PROFILE, else newest.
const backendOption = () =>
  new Option('--backend <kind>', 'auto (real KVM when usable, else emulated), kvm or emulated [default: $KVM_S390_BACKEND, else auto]').choices(['auto', 'kvm', 'emulated']);
const profileOption = () =>
  new Option('--profile <profile>', 'kernel behaviour the emulated backend reproduces [default: $KVM_S390_PROFILE, else newest]').choices([...KERNEL_PROFILES]);

function parseProfiles(text: string): [KernelProfile, KernelProfile] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length !== 2 || parts.some((p) => !(KERNEL_PROFILES as readonly string[]).includes(p))) {
    throw new UsageError(`--profiles needs two of ${KERNEL_PROFILES.join(', ')} separated by a comma, not "${text}"`);
  }
  return parts as [KernelProfile, KernelProfile];
}

interface ConformanceCli {
  backend?: BackendChoice;
  profile?: string;
  quiet?: boolean;
  filter?: string;
  json?: string;
  junit?: string;
  casesModule?: string;
  caseTimeout?: string;
  differential?: boolean;
  seed?: string;
  count: string;
  profiles: string;
  out?: string;
  shrink: boolean;
}

function differential(o: ConformanceCli): number {
  const seed = o.seed ?? String(Date.now() % 1_000_000);
  const count = parseNumber(o.count, '--count', 1, 1_000_000);
  const sides = chooseSides(resolveChoice(o.backend), parseProfiles(o.profiles));
  const outDir = o.out ?? path.join('reports', `differential-${seed}`);
  const tty = process.stderr.isTTY === true;
  const quiet = o.quiet === true;
  let last = 0;
  if (!quiet) process.stderr.write(`Comparing ${sides[0].label} with ${sides[1].label}: ${count} scenarios, seed ${seed}\n`);
  try {
    const summary = runDifferential({
      seed,
      count,
      sides,
      outDir,
      shrink: o.shrink,
      onProgress(done, total, found) {
        if (quiet) return;
        const now = Date.now();
        if (tty && (now - last > 100 || done === total)) {
          last = now;
          process.stderr.write(`\r\x1b[K[${done}/${total}] ${found} disagreement${found === 1 ? '' : 's'}`);
          if (done === total) process.stderr.write('\r\x1b[K');
        } else if (!tty && (done % Math.max(1, Math.floor(total / 10)) === 0 || done === total)) {
          process.stderr.write(`[${done}/${total}] ${found} disagreement${found === 1 ? '' : 's'}\n`);
        }
      },
    });
    const text: string[] = [];
    summary.disagreements.forEach((d, i) => text.push(formatDisagreement(d, sides, i + 1), ''));
    text.push(formatSummary(summary, sides));
    if (summary.disagreements.length) text.push(`Reproducers: ${outDir}${path.sep}`);
    const failing = unexplained(summary);
    text.push(
      sides.every((side) => side.kind === 'emulated')
        ? `Verdict: ${failing.length === 0 ? 'every disagreement is a documented profile difference' : `${failing.length} disagreement${failing.length === 1 ? '' : 's'} no documented profile difference explains`}`
        : `Verdict: ${failing.length === 0 ? `real KVM and the model agree${summary.disagreements.length ? ` (${summary.disagreements.length} differed only in reference bits, which the architecture lets a machine record inexactly)` : ''}` : `${failing.length} disagreement${failing.length === 1 ? '' : 's'} between real KVM and the model`}`,
    );
    (o.json === '-' ? process.stderr : process.stdout).write(text.join('\n') + '\n');
    if (o.json) {
      const doc = summaryJson(summary, sides);
      const json = JSON.stringify(doc, null, 2) + '\n';
      if (o.json === '-') process.stdout.write(json);
      else writeFileSync(o.json, json);
    }
    return failing.length > 0 ? 1 : 0;
  } finally {
    for (const s of sides) s.close();
  }
}

export function buildProgram(): Command {
  const program = new Command('kvm-s390')
    .description('Key-checked access to s390x KVM guest memory: probe the host, run the conformance suite, compare backends, explain key protection')
    .version(version())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('probe')
    .description('show the backend this host gets and why, the kernel, every memop capability with its meaning, and the kernel profile')
    .addOption(backendOption())
    .addOption(profileOption())
    .option('--json', 'machine-readable output')
    .action((o: { backend?: BackendChoice; profile?: KernelProfile; json?: boolean }) => {
      process.exitCode = probeCommand({ backend: o.backend, profile: o.profile, json: o.json === true });
    });

  program
    .command('conformance')
    .description('run the conformance cases against a backend, or --differential to compare two backends on random scenarios')
    .addOption(backendOption())
    .option('--profile <profile>', `kernel profile: ${KERNEL_PROFILES.join(', ')} or all (emulated only) [default: $KVM_S390_PROFILE, else newest]`)
    .option('--filter <text>', 'only cases whose id, topic or title contains this text')
    .option('--json <file>', 'write results as JSON (- for stdout)')
    .option('--junit <file>', 'write JUnit XML for CI')
    .option('--cases-module <file>', 'also run the cases exported as `cases` by this ES module (your own conformance cases)')
    .option('--case-timeout <ms>', 'fail a case that has not settled after this many milliseconds (default 30000)')
    .option('--differential', 'compare two backends on random scenarios instead of running the cases')
    .option('--seed <n>', 'differential: seed of the scenario generator (default: time based, printed)')
    .option('--count <n>', 'differential: number of scenarios', '200')
    .option('--profiles <a,b>', 'differential without KVM: the two emulated profiles', 'newest,classic')
    .option('--out <dir>', 'differential: directory for reproducer files (default reports/differential-SEED)')
    .option('--no-shrink', 'differential: keep disagreeing scenarios as generated')
    .option('--quiet', 'no progress on stderr')
    .addHelpText(
      'after',
      `
Backend: --backend, else $KVM_S390_BACKEND, else auto (real KVM when usable, else emulated), as for every command.
Exit status: 0 all cases passed (skips allowed) / every disagreement explained (two emulated profiles:
a documented profile difference; real KVM: only reference bits differ); 1 a failure or an unexplained disagreement;
2 usage error.
Examples:
  kvm-s390 conformance --junit conformance.xml
  kvm-s390 conformance --profile all --filter cmpxchg
  kvm-s390 conformance --differential --seed 7 --count 500
  kvm-s390 replay reports/differential-7/disagreement-7-12.json --profile classic`,
    )
    .action(async (o: ConformanceCli) => {
      if (o.differential) {
        if (o.filter || o.junit) throw new UsageError('--filter and --junit apply to case runs, not to --differential');
        process.exitCode = differential(o);
        return;
      }
      const caseTimeoutMs = o.caseTimeout === undefined ? undefined : Number(parseNumber(o.caseTimeout, '--case-timeout', 1, 86_400_000));
      process.exitCode = await conformanceCommand({ backend: o.backend, profile: o.profile, filter: o.filter, json: o.json, junit: o.junit, casesModule: o.casesModule, quiet: o.quiet === true, caseTimeoutMs });
    });

  program
    .command('replay')
    .description('run a scenario or differential reproducer again and print each step\'s result')
    .argument('<file>', 'scenario JSON (as written by conformance --differential)')
    .addOption(backendOption())
    .addOption(profileOption())
    .option('--json', 'machine-readable output')
    .action((file: string, o: { backend?: BackendChoice; profile?: KernelProfile; json?: boolean }) => {
      process.exitCode = replayCommand(file, { backend: o.backend, profile: o.profile, json: o.json === true });
    });

  program
    .command('explain')
    .description('say which key-controlled-protection rule allows or refuses an access and what it does to R and C (the emulator\'s own decision code), or what a KVM_S390_KEYOP operation does to a key')
    .requiredOption('--storage-key <byte>', 'storage key of the page, e.g. 0x38 (ACC 3, fetch-protected)')
    .option('--key <n>', 'access key 0..15 (with --mode)')
    .addOption(new Option('--mode <mode>', "access type, as the API's check(): read or write (fetch and store are accepted too)").choices(['read', 'write', 'fetch', 'store']))
    .addOption(new Option('--keyop <operation>', 'a KVM_S390_KEYOP operation instead of an access').choices(['iske', 'rrbe', 'sske']))
    .option('--new-key <byte>', 'the key --keyop sske stores')
    .option('--cr0 <hex>', 'control register 0 (bit 38 FPO 0x2000000, bit 39 SPO 0x1000000, bit 35 LAP 0x10000000)', '0xe0')
    .option('--address <hex>', 'effective (logical) or absolute address', '0')
    .option('--length <n>', 'access length in bytes', '1')
    .option('--absolute', 'an absolute (vm-fd) access: no overrides')
    .option('--private-space', 'DAT on with a private-space ASCE: no fetch-protection override, no LAP')
    .option('--json', 'machine-readable output')
    .action((o: { storageKey: string; key?: string; mode?: string; keyop?: string; newKey?: string; cr0: string; address: string; length: string; absolute?: boolean; privateSpace?: boolean; json?: boolean }) => {
      process.exitCode = explainCommand(o);
    });

  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError || err instanceof ScenarioError || (err instanceof ArgumentRangeError && err.code === 'ERR_INVALID_ARG_VALUE')) {
      process.stderr.write(`kvm-s390: ${err.message}\n`);
      return 2;
    }
    if (err instanceof KvmError) {
      process.stderr.write(`kvm-s390: ${err.message}\n  fix: ${fixFor(err)}\n`);
      return 1;
    }
    throw err;
  }
}

let settled = false;
// Node exits when nothing is left to wait for, even with a promise unsettled; without this a
// command stuck on one (a user's case module, say) would exit 0 as if it had passed.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write('kvm-s390: internal error: the command stopped waiting on a promise that never settles\n');
  process.exitCode = 70;
});

main(process.argv).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    settled = true;
    process.stderr.write(`kvm-s390: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
