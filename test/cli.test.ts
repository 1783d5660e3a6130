// The kvm-s390 CLI end to end, as a user runs it: `node dist/cli/main.js …` in a child
// process, exit statuses, and the files it writes parsed back (JSON as JSON, JUnit as XML).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CASES } from '../src/conformance/index.js';
import { junitXml } from '../src/cli/junit.js';
import { ensureDistBuilt } from './support/dist.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist/cli/main.js');
let tmp: string;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  ensureDistBuilt();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kvm-s390-cli-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---- a strict XML 1.0 well-formedness check (elements, attributes, entities, one root) ----
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.-]*/;
const FORBIDDEN_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function decodeEntities(s: string, where: string): string {
  if (FORBIDDEN_CHAR.test(s)) throw new Error(`character not allowed in XML in ${where}`);
  return s.replace(/&([^;]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`unterminated entity in ${where}: ${m}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (body in named) return named[body]!;
    const num = /^#(\d+)$/.exec(body) ?? /^#x([0-9a-fA-F]+)$/.exec(body);
    if (!num) throw new Error(`unknown entity &${body}; in ${where}`);
    const cp = parseInt(num[1]!, body.startsWith('#x') ? 16 : 10);
    const ch = String.fromCodePoint(cp);
    if (FORBIDDEN_CHAR.test(ch)) throw new Error(`character reference to a forbidden character in ${where}`);
    return ch;
  });
}

function parseXml(xml: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`XML not well-formed at offset ${i}: ${msg} near ${JSON.stringify(xml.slice(i, i + 40))}`);
  };
  const skipWs = () => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end < 0) fail('unterminated declaration');
    i = end + 2;
  }
  const element = (): XmlElement => {
    if (xml[i] !== '<') fail('expected <');
    i++;
    const name = NAME.exec(xml.slice(i))?.[0] ?? fail('bad element name');
    i += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      skipWs();
      if (xml.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (xml[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('attributes must be separated by whitespace');
      const an = NAME.exec(xml.slice(i))?.[0] ?? fail('bad attribute name');
      i += an.length;
      if (an in el.attrs) fail(`duplicate attribute ${an}`);
      if (xml[i] !== '=') fail('expected =');
      i++;
      const q = xml[i];
      if (q !== '"' && q !== "'") fail('attribute value must be quoted');
      const end = xml.indexOf(q!, i + 1);
      if (end < 0) fail('unterminated attribute');
      const raw = xml.slice(i + 1, end);
      if (raw.includes('<')) fail('< in attribute value');
      el.attrs[an] = decodeEntities(raw, `attribute ${an}`);
      i = end + 1;
    }
    for (;;) {
      const lt = xml.indexOf('<', i);
      if (lt < 0) fail(`unclosed element ${name}`);
      const text = xml.slice(i, lt);
      if (text.includes(']]>')) fail(']]> in text');
      el.text += decodeEntities(text, `text of ${name}`);
      i = lt;
      if (xml.startsWith('<!--', i)) {
        const end = xml.indexOf('-->', i);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (xml.startsWith('</', i)) {
        i += 2;
        if (!xml.startsWith(name, i)) fail(`mismatched end tag, expected </${name}>`);
        i += name.length;
        skipWs();
        if (xml[i] !== '>') fail('expected > after end tag');
        i++;
        return el;
      } else {
        el.children.push(element());
      }
    }
  };
  skipWs();
  const root = element();
  skipWs();
  if (i !== xml.length) fail('content after the root element');
  return root;
}

function all(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => all(c, name))];
}

describe('the XML checker itself', () => {
  it('accepts well-formed documents and refuses broken ones', () => {
    expect(parseXml('<?xml version="1.0"?>\n<a x="1&amp;2"><b/>t&lt;</a>\n').attrs.x).toBe('1&2');
    for (const bad of ['<a>', '<a></b>', '<a x=1/>', '<a x="<"/>', '<a>&nbsp;</a>', '<a>&amp</a>', '<a/><b/>', '<a x="1" x="2"/>', '<a>\u0001</a>', '<a x="1"y="2"/>']) {
      expect(() => parseXml(bad), bad).toThrow(/not well-formed|not allowed|entity/);
    }
  });
});

describe('kvm-s390 --help', () => {
  it('documents every command and answers --help everywhere with status 0', () => {
    const top = cli('--help');
    expect(top.status).toBe(0);
    for (const c of ['probe', 'conformance', 'replay', 'explain']) expect(top.stdout).toContain(c);
    const expected: Record<string, string[]> = {
      probe: ['--json', '--backend'],
      conformance: ['--backend', '--profile', '--filter', '--json', '--junit', '--differential', '--seed', '--count', '--profiles'],
      replay: ['<file>', '--backend', '--profile'],
      explain: ['--storage-key', '--key', '--mode', '--cr0', '--address', '--absolute', '--private-space'],
    };
    for (const [cmd, options] of Object.entries(expected)) {
      const r = cli(cmd, '--help');
      expect(r.status, cmd).toBe(0);
      for (const o of options) expect(r.stdout, `${cmd} --help`).toContain(o);
    }
  });

  it('refuses unknown commands and options with status 2', () => {
    expect(cli('frobnicate').status).toBe(2);
    expect(cli('probe', '--no-such-option').status).toBe(2);
    expect(cli('conformance', '--profile', 'v9.9').status).toBe(2);
  });
});

describe('kvm-s390 probe', () => {
  const kvmPresent = existsSync('/dev/kvm') && process.arch === 's390x';

  it('prints the backend, why, the kernel release and every memop capability', () => {
    const r = cli('probe');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Backend: +(kvm|emulated)/m);
    expect(r.stdout).toContain(os.release());
    for (const cap of [108, 211, 110, 180, 247, 42, 74, 113, 114, 179]) expect(r.stdout).toMatch(new RegExp(`^ +${cap} KVM_CAP_`, 'm'));
    expect(r.stdout).toMatch(/Kernel profile: +(newest|classic|v5\.18|pre-5\.18)/);
  });

  it('--json: capabilities decoded per docs/memop-semantics.md §12, and the reason and fix when KVM is unusable', () => {
    const r = cli('probe', '--json');
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.host.kernelRelease).toBe(os.release());
    expect(doc.host.arch).toBe(process.arch);
    const caps = new Map<number, { value: number; meaning: string }>(doc.capabilities.map((c: { cap: number }) => [c.cap, c]));
    expect([...caps.keys()].sort((a, b) => a - b)).toEqual([42, 74, 108, 110, 113, 114, 179, 180, 211, 247]);
    expect(caps.get(108)!.value).toBe(65536); // §12: max size
    if (!kvmPresent) {
      expect(doc.backend.kind).toBe('emulated');
      expect(doc.kvm.usable).toBe(false);
      expect(doc.kvm.error.code).toMatch(/^E[A-Z0-9]+$/);
      expect(doc.kvm.error.message).toContain(doc.kvm.error.code);
      expect(doc.kvm.error.fix.length).toBeGreaterThan(10);
      if (process.arch !== 's390x') expect(doc.kvm.error.fix).toMatch(/s390x/);
      // The newest profile answers 3 = BASE|CMPXCHG (≥ 6.3) and has KEYOP.
      expect(caps.get(211)!.value).toBe(3);
      expect(caps.get(211)!.meaning).toMatch(/BASE.*CMPXCHG/);
      expect(caps.get(247)!.value).toBe(1);
    }
  });

  it('decodes the extension cap of each emulated kernel profile (docs/memop-semantics.md §0.1, §12)', () => {
    const expected: Record<string, [number, boolean, boolean]> = {
      newest: [3, true, true],
      classic: [3, true, false],
      'v5.18': [1, false, false],
      'pre-5.18': [0, false, false],
    };
    for (const [profile, [ext, cmpxchg, keyop]] of Object.entries(expected)) {
      const doc = JSON.parse(cli('probe', '--backend', 'emulated', '--profile', profile, '--json').stdout);
      expect(doc.profile.name).toBe(profile);
      const c211 = doc.capabilities.find((c: { cap: number }) => c.cap === 211);
      expect(c211.value, profile).toBe(ext);
      expect(/CMPXCHG/.test(c211.meaning), profile).toBe(cmpxchg);
      const c247 = doc.capabilities.find((c: { cap: number }) => c.cap === 247);
      expect(c247.value > 0, profile).toBe(keyop);
      expect(c247.meaning, profile).toMatch(keyop ? /ISKE, RRBE, SSKE/ : /ENOTTY/);
    }
  });

  it.skipIf(kvmPresent)('--backend kvm on a host without usable KVM: status 1 with the reason and the fix', () => {
    const r = cli('probe', '--backend', 'kvm');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/failed: E[A-Z]+/);
    expect(r.stderr).toMatch(/fix: /);
  });
});

describe('kvm-s390 conformance', () => {
  it('runs every case on the emulated backend, writes JSON and JUnit that agree, exits by the failures', () => {
    const r = cli('conformance', '--json', 'results.json', '--junit', 'results.xml');
    const doc = JSON.parse(readFileSync(path.join(tmp, 'results.json'), 'utf8'));
    expect(doc.runs).toHaveLength(1);
    const run = doc.runs[0];
    expect(run.backend).toBe('emulated');
    expect(run.profile).toBe('newest');
    expect(run.results.map((x: { id: string }) => x.id)).toEqual(ALL_CASES.map((c) => c.id));
    const failed = run.results.filter((x: { status: string }) => x.status === 'failed').length;
    const skipped = run.results.filter((x: { status: string }) => x.status === 'skipped').length;
    expect(run.totals).toEqual({ cases: ALL_CASES.length, passed: ALL_CASES.length - failed - skipped, failed, skipped });
    expect(r.status).toBe(failed > 0 ? 1 : 0);
    // The summary table: one row per topic and a total.
    for (const topic of new Set(ALL_CASES.map((c) => c.topic))) expect(r.stdout).toMatch(new RegExp(`^${topic} +\\d+`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^total +${ALL_CASES.length} `, 'm'));
    // Progress goes to stderr, one plain line per case when not on a terminal.
    expect(r.stderr.trim().split('\n')).toHaveLength(ALL_CASES.length);

    const xml = parseXml(readFileSync(path.join(tmp, 'results.xml'), 'utf8'));
    expect(xml.name).toBe('testsuites');
    expect(Number(xml.attrs.tests)).toBe(ALL_CASES.length);
    expect(Number(xml.attrs.failures)).toBe(failed);
    expect(Number(xml.attrs.skipped)).toBe(skipped);
    const suites = all(xml, 'testsuite');
    expect(suites.map((s) => s.attrs.name).sort()).toEqual([...new Set(ALL_CASES.map((c) => `emulated/newest.${c.topic}`))].sort());
    const cases = all(xml, 'testcase');
    expect(cases).toHaveLength(ALL_CASES.length);
    expect(all(xml, 'skipped')).toHaveLength(skipped);
    expect(all(xml, 'failure')).toHaveLength(failed);
    for (const s of suites) expect(Number(s.attrs.tests)).toBe(s.children.length);
    const first = ALL_CASES[0]!;
    expect(cases.some((c) => c.attrs.name === `${first.id}: ${first.title}`)).toBe(true);
  });

  it('--filter keeps matching cases only; a filter matching nothing is a usage error', () => {
    const r = cli('conformance', '--filter', 'storage-keys', '--json', '-');
    const doc = JSON.parse(r.stdout); // the summary table goes to stderr with --json -
    expect(r.stderr).toMatch(/^total +\d+/m);
    const want = ALL_CASES.filter((c) => `${c.id} ${c.topic} ${c.title}`.toLowerCase().includes('storage-keys')).map((c) => c.id);
    expect(want.length).toBeGreaterThan(0);
    expect(doc.runs[0].results.map((x: { id: string }) => x.id)).toEqual(want);
    const none = cli('conformance', '--filter', 'no-case-is-called-like-this');
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/matches none/);
  });

  it('--profile all runs every kernel profile', () => {
    cli('conformance', '--profile', 'all', '--filter', 'capabilities', '--json', 'all.json', '--junit', 'all.xml');
    const doc = JSON.parse(readFileSync(path.join(tmp, 'all.json'), 'utf8'));
    expect(doc.runs.map((r: { profile: string }) => r.profile)).toEqual(['newest', 'classic', 'v6.3', 'v5.18', 'pre-5.18']);
    const xml = parseXml(readFileSync(path.join(tmp, 'all.xml'), 'utf8'));
    expect(new Set(all(xml, 'testsuite').map((s) => s.attrs.name!.split('.')[0]))).toEqual(new Set(['emulated/newest', 'emulated/classic', 'emulated/v6', 'emulated/v5', 'emulated/pre-5']));
    expect(cli('conformance', '--backend', 'auto', '--profile', 'all').status).toBe(2);
  });

  it('a failing case: status 1, <failure> with its message escaped, skips as <skipped>', () => {
    const mod = path.join(tmp, 'extra-cases.mjs');
    writeFileSync(
      mod,
      `export const cases = [
        { id: 'extra/fails', topic: 'extra', title: 'fails <on purpose> & "loudly"', source: 'test',
          run() { throw new Error("expected 0, got 4 <PGM_PROTECTION> & 'more'\\u0001"); } },
        { id: 'extra/skips', topic: 'extra', title: 'skips', source: 'test', run(ctx) { ctx.skip('needs <real> KVM & more'); } },
        { id: 'extra/passes', topic: 'extra', title: 'passes', source: 'test', run() {} },
      ];\n`,
    );
    const r = cli('conformance', '--cases-module', mod, '--filter', 'extra/', '--junit', 'extra.xml', '--json', 'extra.json');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/Failed:\n +extra\/fails: expected 0, got 4/);
    const xml = parseXml(readFileSync(path.join(tmp, 'extra.xml'), 'utf8'));
    const failures = all(xml, 'failure');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.attrs.message).toBe("expected 0, got 4 <PGM_PROTECTION> & 'more'\uFFFD");
    expect(all(xml, 'skipped')[0]!.attrs.message).toBe('needs <real> KVM & more');
    expect(all(xml, 'testcase').map((c) => c.attrs.name)).toContain('extra/fails: fails <on purpose> & "loudly"');
    const doc = JSON.parse(readFileSync(path.join(tmp, 'extra.json'), 'utf8'));
    expect(doc.runs[0].totals).toEqual({ cases: 3, passed: 1, failed: 1, skipped: 1 });
  });
});

describe('JUnit writer', () => {
  it('escapes every XML special and drops forbidden characters in names, messages and text', () => {
    const nasty = 'a<b>&c"d\'e\u0000f\u001bg\uD800h\n\ti]]>';
    const xml = junitXml([
      {
        label: 'emulated/newest',
        timestamp: new Date(0),
        results: [
          { id: nasty, topic: nasty, title: nasty, status: 'failed', message: nasty, error: new Error(nasty), durationMs: 1 },
          { id: 'x', topic: 't', title: 't', status: 'skipped', message: nasty, durationMs: 0 },
        ],
      },
    ]);
    const doc = parseXml(xml);
    const clean = nasty.replace(/[\u0000\u001b\uD800]/g, '\uFFFD');
    expect(all(doc, 'failure')[0]!.attrs.message).toBe(clean);
    expect(all(doc, 'skipped')[0]!.attrs.message).toBe(clean);
    expect(all(doc, 'testsuite')[0]!.attrs.name).toBe(`emulated/newest.${clean}`);
  });
});

// ---- differential mode: newest vs classic finds exactly the §13 differences ----

interface Report {
  sides: { label: string; profile: string }[];
  difference: { step: number; kind: string; results: Record<string, unknown>[] };
  scenario: { steps: Record<string, any>[] };
}

/**
 * Which of the known newest/classic differences (docs/memop-semantics.md §13 a–d, and the per-process key use
 * of docs/spec-errata.md) a reproducer shows, judged from the differing step's inputs and
 * the two results as the spec predicts them; null when it is none of them.
 */
function classify(rep: Report): string | null {
  const steps = rep.scenario.steps;
  const step = steps[rep.difference.step]!;
  const [newest, classic] = rep.difference.results as Record<string, any>[];
  // Errata: KVM_S390_KEYOP exists only after the gmap rewrite; the vm fd of older kernels
  // does not know the ioctl.
  if (step.do === 'keyop') return classic!.errno === 'ENOTTY' && newest!.errno !== 'ENOTTY' ? 'g: KEYOP only after the gmap rewrite' : null;
  // Errata: before the rewrite SET_SKEYS loses the first non-zero key of a fresh 1 MiB segment.
  if (step.do === 'setStorageKeys' && onlyLostKeysDiffer(newest!, classic!)) return 'f: SET_SKEYS loses a key of a fresh segment';
  const sizes = new Map<number, bigint>();
  for (const s of steps) if (s.do === 'createVm') sizes.set(s.vm, BigInt(s.memorySize));
  if (step.do === 'vm.memop') {
    const d = step.desc;
    const mem = sizes.get(step.vm)!;
    const gaddr = BigInt(d.gaddr);
    const flags = BigInt(d.flags);
    const checkOnly = (flags & 1n) !== 0n;
    const keyZero = (flags & 4n) === 0n || d.key === 0;
    // (a) classic refuses a first byte outside memory with 5 before reading the user buffer.
    if ((d.op === 4 || d.op === 5) && !checkOnly && gaddr >= mem && classic!.ret === 5 && newest!.ret !== 5) return 'a: absolute first-byte pre-check';
    // (b) classic check-only with key 0 validates only the first byte.
    if ((d.op === 4 || d.op === 5) && checkOnly && keyZero && gaddr < mem && gaddr + BigInt(d.size) > mem && classic!.ret === 0 && newest!.ret === 5) {
      return 'b: absolute check-only with key 0';
    }
    // (c) cmpxchg: classic answers 5 for a gaddr outside memory before the alignment check.
    if (d.op === 6 && gaddr >= mem && classic!.ret === 5 && newest!.errno === 'EINVAL') return 'c: cmpxchg error order';
    return null;
  }
  if (step.do === 'setStorageKeys') {
    // (d) newest refuses a reserved bit before changing any key; classic sets keys in order.
    const keys = (step.keys as string).match(/../g)!.map((k) => parseInt(k, 16));
    if (keys.some((k) => k & 1) && newest!.errno === 'EINVAL') return 'd: SET_SKEYS reserved-bit order';
    return null;
  }
  if (step.do === 'getStorageKeys') {
    // Errata §9: classic's "uses keys" belongs to the process, newest's to the VM.
    const own = steps.slice(0, rep.difference.step).some((s) => s.do === 'setStorageKeys' && s.vm === step.vm);
    const other = steps.slice(0, rep.difference.step).some((s) => s.do === 'setStorageKeys' && s.vm !== step.vm);
    // GET answers NONE before checking count and gfn (§9), so classic goes on to those checks.
    if (!own && other && newest!.ret === 'KVM_S390_GET_SKEYS_NONE' && classic!.ret !== 'KVM_S390_GET_SKEYS_NONE') return 'e: key use per process';
    return null;
  }
  return null;
}

/** The two results are equal except key bytes, where classic's are newest's with R and C set. */
/**
 * True when the two results differ only in key bytes that classic left 0 where newest stored
 * a key: SET_SKEYS before the gmap rewrite loses a non-zero key whose 1 MiB host segment has
 * no page table yet.
 */
function onlyLostKeysDiffer(newest: Record<string, any>, classic: Record<string, any>): boolean {
  let keysDiffer = false;
  for (const field of new Set([...Object.keys(newest), ...Object.keys(classic)])) {
    const a = newest[field];
    const b = classic[field];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if ((field !== 'keys' && field !== 'keysAfter') || typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i += 2) {
      const n = parseInt(a.slice(i, i + 2), 16);
      const c = parseInt(b.slice(i, i + 2), 16);
      if (n !== c && c !== 0) return false;
    }
    keysDiffer = true;
  }
  return keysDiffer;
}

describe('kvm-s390 conformance --differential', () => {
  let summary: any;
  let run: Run;
  const outDir = () => path.join(tmp, 'diff');

  beforeAll(() => {
    run = cli('conformance', '--differential', '--seed', '42', '--count', '200', '--profiles', 'newest,classic', '--out', 'diff', '--json', 'diff.json');
    summary = JSON.parse(readFileSync(path.join(tmp, 'diff.json'), 'utf8'));
  });

  it('newest vs classic: every disagreement is one of the known profile differences, and all of them are found', () => {
    // Every disagreement is a documented profile difference, so the run passes.
    expect(run.status).toBe(0);
    expect(summary.unexplained).toBe(0);
    const libraryId: Record<string, string> = {
      a: 'absolute-first-byte-precheck',
      b: 'absolute-check-key-zero',
      c: 'cmpxchg-order',
      d: 'set-skeys-reserved-bit-order',
      e: 'key-use-per-process',
      f: 'set-skeys-lost-key',
      g: 'keyop-only-after-rewrite',
    };
    expect(summary.count).toBe(200);
    expect(summary.disagreements.length).toBeGreaterThan(0);
    const found = new Set<string>();
    for (const d of summary.disagreements) {
      const rep = JSON.parse(readFileSync(path.resolve(tmp, d.file), 'utf8')) as Report;
      expect(rep.sides.map((s) => s.profile)).toEqual(['newest', 'classic']);
      const category = classify(rep);
      expect(category, `${d.file}: ${JSON.stringify(rep.difference)}`).not.toBeNull();
      found.add(category!);
      // The CLI's own classification (src/conformance/profile-differences.ts) agrees.
      expect((rep.difference as { explanation?: { id: string } }).explanation?.id, d.file).toBe(libraryId[category![0]!]);
      // Minimal: the differing step is the last one, and little besides it is left.
      expect(rep.difference.step).toBe(rep.scenario.steps.length - 1);
      expect(rep.scenario.steps.length).toBeLessThanOrEqual(4);
    }
    expect([...found].sort()).toEqual([
      'a: absolute first-byte pre-check',
      'b: absolute check-only with key 0',
      'c: cmpxchg error order',
      'd: SET_SKEYS reserved-bit order',
      'e: key use per process',
      'f: SET_SKEYS loses a key of a fresh segment',
      'g: KEYOP only after the gmap rewrite',
    ]);
    const kinds = new Set(summary.disagreements.map((d: { kind: string }) => d.kind));
    for (const k of kinds) expect(['absolute-write', 'absolute-read-check', 'absolute-write-check', 'absolute-cmpxchg', 'setStorageKeys', 'getStorageKeys', 'keyop']).toContain(k);
  });

  it('the report names the kernel release, the capabilities and the memop struct fields', () => {
    expect(run.stdout).toContain(os.release());
    expect(run.stdout).toMatch(/211=3 \(BASE\|CMPXCHG\)/);
    expect(run.stdout).toMatch(/247=0/); // classic has no KEYOP
    expect(run.stdout).toMatch(/ioctl\(vm fd, KVM_S390_MEM_OP, &\(struct kvm_s390_mem_op\)\{\n +op += \d/);
    for (const field of ['gaddr', 'size', 'flags', 'ar', 'key', 'buf']) expect(run.stdout).toMatch(new RegExp(`^ +${field} += `, 'm'));
    expect(run.stdout).toMatch(/scenarios\/s/);
  });

  it('is deterministic by seed, and the same profile on both sides agrees everywhere', () => {
    const again = cli('conformance', '--differential', '--seed', '42', '--count', '200', '--profiles', 'newest,classic', '--out', 'diff2', '--json', 'diff2.json');
    expect(again.status).toBe(0);
    const s2 = JSON.parse(readFileSync(path.join(tmp, 'diff2.json'), 'utf8'));
    const strip = (s: any) => s.disagreements.map((d: any) => ({ ...d, file: path.basename(d.file) }));
    expect(strip(s2)).toEqual(strip(summary));
    const same = cli('conformance', '--differential', '--seed', '42', '--count', '60', '--profiles', 'classic,classic', '--out', 'same');
    expect(same.status).toBe(0);
    expect(same.stdout).toMatch(/Disagreements: 0/);
  });

  it('replay reproduces each side of a reproducer', () => {
    const files = readdirSync(outDir()).map((f) => path.join(outDir(), f));
    expect(files.length).toBe(summary.disagreements.length);
    for (const file of files.slice(0, 6)) {
      const rep = JSON.parse(readFileSync(file, 'utf8')) as Report;
      for (const [i, profile] of ['newest', 'classic'].entries()) {
        const r = cli('replay', file, '--backend', 'emulated', '--profile', profile, '--json');
        expect(r.status).toBe(0);
        const out = JSON.parse(r.stdout);
        const { message: _m, ...got } = out.steps[rep.difference.step].result;
        const { message: _n, ...want } = rep.difference.results[i]!;
        expect(got, `${file} on ${profile}`).toEqual(want);
        expect(out.matches).toEqual([rep.sides[i]!.label]);
      }
      const text = cli('replay', file, '--backend', 'emulated', '--profile', 'classic');
      expect(text.stdout).toMatch(/Recorded difference: step \d+ matches emulated\/classic/);
      expect(text.stdout).toMatch(/^ +1\. vm0 = createVm/m);
    }
  });

  it('replay refuses a file that is not a scenario', () => {
    writeFileSync(path.join(tmp, 'not-a-scenario.json'), '{"hello": 1}');
    const r = cli('replay', 'not-a-scenario.json', '--backend', 'emulated');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a scenario file/);
  });
});

describe('kvm-s390 explain', () => {
  const explain = (...args: string[]) => {
    const r = cli('explain', ...args, '--json');
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { allowed: boolean; fragments: { rule: string; explanation: string }[]; lowAddressProtection: boolean };
  };

  it('applies the rules of docs/memop-semantics.md §8.7', () => {
    // ACC 3 with F set: another key may not fetch …
    expect(explain('--storage-key', '0x38', '--key', '5', '--mode', 'fetch').fragments[0]!.rule).toBe('refused');
    // … unless the fetch-protection override (CR0 bit 38) covers effective 0..2047,
    expect(explain('--storage-key', '0x38', '--key', '5', '--mode', 'fetch', '--cr0', '0x20000e0', '--address', '0x100', '--length', '16').fragments[0]!.rule).toBe('fetch-protection-override');
    // which a private space turns off, and which ends at 2047,
    expect(explain('--storage-key', '0x38', '--key', '5', '--mode', 'fetch', '--cr0', '0x20000e0', '--address', '0x100', '--private-space').allowed).toBe(false);
    expect(explain('--storage-key', '0x38', '--key', '5', '--mode', 'fetch', '--cr0', '0x20000e0', '--address', '0x7f8', '--length', '16').allowed).toBe(false);
    // and absolute accesses have no overrides.
    expect(explain('--storage-key', '0x38', '--key', '5', '--mode', 'fetch', '--cr0', '0x20000e0', '--absolute').allowed).toBe(false);
    expect(explain('--storage-key', '0x38', '--key', '3', '--mode', 'store').fragments[0]!.rule).toBe('acc-match');
    expect(explain('--storage-key', '0x38', '--key', '0', '--mode', 'store').fragments[0]!.rule).toBe('key-zero');
    expect(explain('--storage-key', '0x30', '--key', '5', '--mode', 'fetch').fragments[0]!.rule).toBe('not-fetch-protected');
    expect(explain('--storage-key', '0x30', '--key', '5', '--mode', 'store').allowed).toBe(false);
    // Storage-protection override (CR0 bit 39): ACC 9 lets any key store, logical only.
    expect(explain('--storage-key', '0x90', '--key', '5', '--mode', 'store', '--cr0', '0x10000e0').fragments[0]!.rule).toBe('storage-protection-override');
    expect(explain('--storage-key', '0x90', '--key', '5', '--mode', 'store', '--cr0', '0x10000e0', '--absolute').allowed).toBe(false);
    expect(explain('--storage-key', '0x80', '--key', '5', '--mode', 'store', '--cr0', '0x10000e0').allowed).toBe(false);
    // Low-address protection is named for stores to 0..511 when CR0 bit 35 is on.
    expect(explain('--storage-key', '0x00', '--key', '0', '--mode', 'store', '--cr0', '0x100000e0', '--address', '0x100').lowAddressProtection).toBe(true);
  });

  it('says it in words, and refuses bad input with status 2', () => {
    const r = cli('explain', '--storage-key', '0x38', '--key', '5', '--mode', 'fetch');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ACC 3/);
    expect(r.stdout).toMatch(/F set/);
    expect(r.stdout).toMatch(/refused — PGM_PROTECTION/);
    expect(cli('explain', '--storage-key', '0x38', '--key', '16', '--mode', 'fetch').status).toBe(2);
    expect(cli('explain', '--storage-key', '0x38', '--key', '5', '--mode', 'execute').status).toBe(2);
    expect(cli('explain', '--key', '5', '--mode', 'fetch').status).toBe(2);
    expect(cli('explain', '--storage-key', '0x38').status).toBe(2);
  });

  it('says what an allowed access does to R and C, and a refused one does not', () => {
    expect(explain('--storage-key', '0x30', '--key', '3', '--mode', 'fetch').keyAfter).toBe(0x34);
    expect(explain('--storage-key', '0x30', '--key', '3', '--mode', 'store').keyAfter).toBe(0x36);
    expect(explain('--storage-key', '0x38', '--key', '5', '--mode', 'fetch').keyAfter).toBe(0x38);
    expect(cli('explain', '--storage-key', '0x30', '--key', '3', '--mode', 'store').stdout).toMatch(/sets R and C: the key becomes 0x36/);
  });

  it('explains KVM_S390_KEYOP: what comes back in key and what the page keeps', () => {
    expect(explain('--storage-key', '0x36', '--keyop', 'iske')).toMatchObject({ operation: 1, returned: 0x36, keyAfter: 0x36 });
    expect(explain('--storage-key', '0x36', '--keyop', 'rrbe')).toMatchObject({ operation: 2, returned: 0x06, keyAfter: 0x32 });
    expect(explain('--storage-key', '0x30', '--keyop', 'sske', '--new-key', '0x51')).toMatchObject({ operation: 3, returned: 0x30, keyAfter: 0x50 });
    const r = cli('explain', '--storage-key', '0x34', '--keyop', 'rrbe');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/condition code 2/);
    expect(r.stdout).toMatch(/ENOTTY/);
    expect(cli('explain', '--storage-key', '0x30', '--keyop', 'sske').status).toBe(2);
    expect(cli('explain', '--storage-key', '0x30', '--keyop', 'xyz').status).toBe(2);
  });
});
