// `kvm-s390 explain`: which key-controlled-protection rule allows or refuses an access, in
// words, decided by the emulator's own code (decideKeyRule / describeKeyRule), what the access
// does to the reference and change bits, and what a KVM_S390_KEYOP operation does to a key.
import { KEYOP, PAGE_SIZE, PGM, STORAGE_KEY } from '../abi/constants.js';
import { decideKeyRule, describeKeyRule, type AccessMode, type KeyRule, type OverrideContext } from '../emulated/key-protection.js';
import { FaultRecorder } from '../emulated/faults.js';
import { PROFILES } from '../emulated/profiles.js';
import { AbsoluteStorage } from '../emulated/storage.js';
import { keyop } from '../emulated/storage-key-ops.js';
import { StorageKeys } from '../emulated/storage-keys.js';
import { hex } from '../conformance/text.js';
import { parseBigInt, parseNumber, UsageError } from './format.js';

export interface ExplainOptions {
  storageKey: string;
  /** Access key; required unless `keyop` is given. */
  key?: string;
  /** fetch or store; required unless `keyop` is given. */
  mode?: string;
  /** A KVM_S390_KEYOP operation (iske, rrbe, sske) on a page with `storageKey`. */
  keyop?: string;
  /** The key SSKE stores. */
  newKey?: string;
  cr0?: string;
  address?: string;
  length?: string;
  absolute?: boolean;
  privateSpace?: boolean;
  json?: boolean;
}

// CR0 bits (s390 numbering; the mask of bit n of a 64-bit register is 1 << (63 - n)).
const CR0_LAP = 0x10000000n; // bit 35
const CR0_FPO = 0x2000000n; // bit 38
const CR0_SPO = 0x1000000n; // bit 39

interface Fragment {
  address: bigint;
  length: number;
  rule: KeyRule;
  allowed: boolean;
  sentence: string;
}

export function explain(opts: ExplainOptions): { lines: string[]; json: Record<string, unknown> } {
  if (opts.keyop !== undefined) return explainKeyop(opts);
  const storageKey = parseNumber(opts.storageKey, '--storage-key', 0, 0xff);
  if (opts.key === undefined || opts.mode === undefined) throw new UsageError('--key and --mode are required (or --keyop)');
  const accessKey = parseNumber(opts.key, '--key', 0, 15);
  // The API's words ('read' | 'write', as check() takes them); the architecture's are aliases.
  const modes: Record<string, 'fetch' | 'store'> = { read: 'fetch', write: 'store', fetch: 'fetch', store: 'store' };
  const accessMode = modes[opts.mode];
  if (accessMode === undefined) throw new UsageError(`--mode must be read or write (or fetch, store), not "${opts.mode}"`);
  const mode: AccessMode = accessMode;
  const apiMode = mode === 'fetch' ? 'read' : 'write';
  const cr0 = opts.cr0 === undefined ? 0xe0n : parseBigInt(opts.cr0, '--cr0');
  const address = opts.address === undefined ? 0n : parseBigInt(opts.address, '--address');
  const length = opts.length === undefined ? 1 : parseNumber(opts.length, '--length', 1, 65536);
  const absolute = opts.absolute === true;
  const privateSpace = opts.privateSpace === true;
  if (absolute && privateSpace) throw new UsageError('--private-space describes a logical access; absolute accesses have no address space');

  const fpoBit = (cr0 & CR0_FPO) !== 0n;
  const spoBit = (cr0 & CR0_SPO) !== 0n;
  const lapBit = (cr0 & CR0_LAP) !== 0n;
  // FPO applies only with DAT off or a non-private ASCE (docs/memop-semantics.md §8.7); SPO always (logical only).
  const overrides: OverrideContext | null = absolute ? null : { fetchProtectionOverride: fpoBit && !privateSpace, storageProtectionOverride: spoBit };

  const fragments: Fragment[] = [];
  let ea = address;
  let remaining = length;
  while (remaining > 0) {
    const flen = Math.min(PAGE_SIZE - Number(ea % BigInt(PAGE_SIZE)), remaining);
    const rule = decideKeyRule(storageKey, accessKey, mode, overrides, Number(ea > 0xffffffffn ? 0xffffffffn : ea), flen);
    const where = absolute ? `absolute page ${hex(ea - (ea % BigInt(PAGE_SIZE)))}` : `effective ${hex(ea)}..${hex(ea + BigInt(flen) - 1n)}`;
    fragments.push({ address: ea, length: flen, rule, allowed: rule !== 'refused', sentence: describeKeyRule(rule, storageKey, accessKey, mode, where) });
    ea += BigInt(flen);
    remaining -= flen;
  }
  const allowed = fragments.every((f) => f.allowed);

  const acc = storageKey >> 4;
  const bit = (m: number) => ((storageKey & m) !== 0 ? 1 : 0);
  const lines: string[] = [];
  lines.push(`Storage key ${hex(storageKey)}: ACC ${acc}, F ${bit(STORAGE_KEY.FETCH_PROTECTION)}, R ${bit(STORAGE_KEY.REFERENCE)}, C ${bit(STORAGE_KEY.CHANGE)}${bit(STORAGE_KEY.RESERVED) ? ', reserved bit 7 set (SET_SKEYS refuses such a key with EINVAL)' : ''}`);
  lines.push(
    `Access: ${apiMode} (${mode}) with access key ${accessKey}, ${absolute ? 'absolute' : 'logical'} address ${hex(address)}, length ${length}` +
      (absolute ? ' (vm-fd memop or cmpxchg: no overrides)' : privateSpace ? ' (DAT on, private-space ASCE)' : ' (DAT off or non-private ASCE)'),
  );
  if (absolute) {
    lines.push(`Overrides: none — absolute accesses ignore CR0${opts.cr0 !== undefined ? ` (${hex(cr0)} given)` : ''}`);
  } else {
    const fpoState = !fpoBit ? 'off' : privateSpace ? 'set but not applicable (private space)' : 'on, for effective 0..2047';
    lines.push(`CR0 ${hex(cr0)}: fetch-protection override (bit 38) ${fpoState}; storage-protection override (bit 39) ${spoBit ? 'on, for ACC 9' : 'off'}`);
  }
  if (fragments.length > 1) lines.push(`The range spans ${fragments.length} pages; each page has its own storage key (this one assumed for all):`);
  for (const f of fragments) lines.push(`${fragments.length > 1 ? '  ' : ''}${f.sentence}`);
  lines.push(
    allowed
      ? 'Result: allowed by key-controlled protection'
      : `Result: refused — PGM_PROTECTION (0x${PGM.PROTECTION.toString(16).padStart(2, '0')}), key-controlled protection${absolute ? '' : ' (TEID bit 60 set when injected)'}`,
  );
  const recorded = mode === 'store' ? STORAGE_KEY.REFERENCE | STORAGE_KEY.CHANGE : STORAGE_KEY.REFERENCE;
  lines.push(
    allowed
      ? `Reference and change recording: the ${mode} sets ${mode === 'store' ? 'R and C' : 'R'}: the key becomes ${hex(storageKey | recorded)}`
      : `Reference and change recording: nothing is accessed, the key stays ${hex(storageKey)}`,
  );
  const lapLow = (ea0: bigint) => (ea0 & ~0x11ffn) === 0n;
  if (!absolute && mode === 'store' && lapBit && !privateSpace && fragments.some((f) => lapLow(f.address))) {
    lines.push('Note: low-address protection (CR0 bit 35) refuses this store with PGM_PROTECTION before any key check (effective 0..511 and 4096..4607)');
  }
  return {
    lines,
    json: {
      storageKey,
      accessKey,
      mode: apiMode,
      accessType: mode,
      absolute,
      privateSpace,
      cr0: hex(cr0),
      overrides,
      allowed,
      fragments: fragments.map((f) => ({ address: hex(f.address), length: f.length, rule: f.rule, allowed: f.allowed, explanation: f.sentence })),
      lowAddressProtection: !absolute && mode === 'store' && lapBit && !privateSpace && fragments.some((f) => lapLow(f.address)),
      keyAfter: allowed ? storageKey | recorded : storageKey,
    },
  };
}

const KEYOP_BY_NAME: Readonly<Record<string, number>> = { iske: KEYOP.ISKE, rrbe: KEYOP.RRBE, sske: KEYOP.SSKE };

/** What KVM_S390_KEYOP returns in `key` and leaves as the page's key (newest kernels only). */
function explainKeyop(opts: ExplainOptions): { lines: string[]; json: Record<string, unknown> } {
  const storageKey = parseNumber(opts.storageKey, '--storage-key', 0, 0xff);
  const name = opts.keyop!.toLowerCase();
  const operation = KEYOP_BY_NAME[name];
  if (operation === undefined) throw new UsageError(`--keyop must be iske, rrbe or sske, not "${opts.keyop}"`);
  if (operation === KEYOP.SSKE && opts.newKey === undefined) throw new UsageError('--keyop sske needs --new-key');
  const newKey = opts.newKey === undefined ? 0 : parseNumber(opts.newKey, '--new-key', 0, 0xff);
  // The emulator's own KEYOP on a one-page machine of the newest profile holding the key.
  const machine = { storage: new AbsoluteStorage(PAGE_SIZE), keys: new StorageKeys(), switches: PROFILES.newest, faults: new FaultRecorder() };
  machine.keys.set(0, storageKey);
  const returned = keyop(machine, operation, 0n, newKey);
  const after = machine.keys.get(0);
  const what =
    operation === KEYOP.ISKE
      ? 'ISKE reads the whole key (ACC, F, R, C) and changes nothing'
      : operation === KEYOP.RRBE
        ? `RRBE returns the old R and C in their key positions (guest condition code ${returned >> 1}), clears R and keeps C`
        : `SSKE stores ${hex(newKey)}${newKey & STORAGE_KEY.RESERVED ? ' without its reserved bit 0x01 (no error)' : ''} and returns the previous key`;
  const lines = [
    `KVM_S390_KEYOP ${name.toUpperCase()} (operation ${operation}) on a page with storage key ${hex(storageKey)}: ${what}`,
    `Returned in struct kvm_s390_keyop.key: ${hex(returned)}`,
    `The page's key afterwards: ${hex(after)}`,
    'Needs KVM_CAP_S390_KEYOP (247, kernels after the gmap rewrite; older ones answer ENOTTY). It does not enable storage-key handling for the VM (GET_SKEYS still answers NONE), but memop key checks use the key it sets; an address outside guest memory is EFAULT, an unknown operation EINVAL.',
  ];
  return { lines, json: { keyop: name, operation, storageKey, newKey: operation === KEYOP.SSKE ? newKey : undefined, returned, keyAfter: after } };
}

export function explainCommand(opts: ExplainOptions): number {
  const r = explain(opts);
  process.stdout.write(opts.json ? JSON.stringify(r.json, null, 2) + '\n' : r.lines.join('\n') + '\n');
  return 0;
}
