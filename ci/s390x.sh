#!/usr/bin/env bash
# The s390x leg of CI (run by .ci/run after the host tests, and by `npm run test:s390x`):
#  1. installs the cross toolchain and qemu-user from Debian;
#  2. cross-builds the s390x addon and checks its ELF header (S/390, big-endian), and checks
#     the committed prebuild the same way;
#  3. fetches an s390x Node (Debian forky nodejs .debs, private apt state, unpacked into a
#     sysroot; the host's dpkg database is untouched);
#  4. copies the working tree to a scratch directory, installs the s390x variants of the test
#     runner's native packages there, and runs the whole vitest suite under the emulated,
#     big-endian Node: the ABI agreement and struct encodings must pass big-endian, the
#     emulated conformance suite must pass, and the real-KVM tests must be reported skipped
#     with "no KVM" (qemu-user has no KVM; it answers unknown ioctls with ENOSYS).
# The repository tree and its node_modules are left as they were.
# Needs root (apt-get, binfmt_misc) and the Debian and npm registries. Facts behind each step:
# ../shared/notes/s390x-under-emulation.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
t0=$SECONDS
step_start=$SECONDS
step() {
  echo "== $1 (previous step took $((SECONDS - step_start)) s, total $((SECONDS - t0)) s)"
  step_start=$SECONDS
}

CACHE="${KVM_S390_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-s390-ci}"
SCRATCH="$(mktemp -d /tmp/kvm-s390-s390x.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$CACHE" "$ROOT/reports"

# ---- 1. toolchain and emulator --------------------------------------------------------------
step "toolchain: g++-s390x-linux-gnu, qemu-user"
if ! command -v s390x-linux-gnu-g++ >/dev/null || ! command -v qemu-s390x >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends qemu-user qemu-user-binfmt g++-s390x-linux-gnu binutils-s390x-linux-gnu >/dev/null
fi
s390x-linux-gnu-g++ --version | head -1
qemu-s390x --version | head -1

# ---- 2. cross build and ELF checks ----------------------------------------------------------
step "cross-build the s390x addon (node-gyp, s390x-linux-gnu-g++)"
nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
mkdir -p "$SCRATCH/xbuild"
cp -a native binding.gyp package.json "$SCRATCH/xbuild/"
ln -s "$ROOT/node_modules" "$SCRATCH/xbuild/node_modules"
(
  cd "$SCRATCH/xbuild"
  CC=s390x-linux-gnu-gcc CXX=s390x-linux-gnu-g++ LINK=s390x-linux-gnu-g++ AR=s390x-linux-gnu-ar \
    npx --no-install node-gyp rebuild --arch=s390x --nodedir="$nodedir" >"$SCRATCH/xbuild.log" 2>&1 ||
    { cat "$SCRATCH/xbuild.log"; exit 1; }
)
XADDON="$SCRATCH/xbuild/build/Release/kvm_s390.node"
node ci/check-elf.mjs "$XADDON" s390x
node ci/check-elf.mjs prebuilds/linux-s390x/kvm-s390.node s390x
node ci/check-elf.mjs prebuilds/linux-x64/kvm-s390.node x64
[ "$(cat prebuilds/linux-s390x/SOURCES.sha256)" = "$(node ci/source-hash.mjs)" ] ||
  { echo "prebuilds/linux-s390x is older than native/: run npm run prebuild:s390x and commit it" >&2; exit 1; }

# ---- 3. an s390x Node --------------------------------------------------------------------------
step "s390x Node from Debian forky (private apt state, sysroot under $CACHE)"
# shellcheck source=lib/debian-s390x.sh
source ci/lib/debian-s390x.sh
SYSROOT="$(debian_node_sysroot)"
S390X_NODE="$SYSROOT/usr/bin/node"
export QEMU_LD_PREFIX="$SYSROOT"
echo "s390x node $(qemu-s390x -L "$SYSROOT" "$S390X_NODE" --version)," \
  "reports arch $(qemu-s390x -L "$SYSROOT" "$S390X_NODE" -p 'process.arch + " " + require("os").endianness()')"

# binfmt_misc lets an emulated process exec other s390x binaries (child processes of tests).
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-s390x ]; then
  { [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; } 2>/dev/null &&
    grep -v '^#' /usr/lib/binfmt.d/qemu-s390x.conf >/proc/sys/fs/binfmt_misc/register 2>/dev/null ||
    echo "binfmt_misc unavailable: tests that spawn s390x child processes will fail"
fi

# ---- 4. the suite under emulation -----------------------------------------------------------
step "scratch copy of the tree with s390x test-runner packages"
W="$SCRATCH/tree"
bash ci/lib/s390x-tree.sh "$W"

run_s390x() {
  (cd "$W" && KVM_S390_UNDER_QEMU_USER=1 qemu-s390x -L "$SYSROOT" "$S390X_NODE" "$@")
}

step "ABI agreement with the freshly cross-built addon (KVM_S390_ADDON), big-endian"
KVM_S390_ADDON="$XADDON" run_s390x node_modules/vitest/vitest.mjs run --pool=threads test/abi-agreement.test.ts

step "the byte-order suites under emulated s390x Node (committed prebuild via node-gyp-build)"
REPORT="$ROOT/reports/vitest-s390x.json"
status=0
# Big-endian matters for the ABI, the struct codecs, the kvm backend's typed errors and the
# emulator (guest tables are big-endian): those suites run here. The fuzzers, the fd-leak
# cycles and the CLI's spawned processes run on the host only: under qemu-user they take many
# times longer and were killed for memory, while testing no byte order of their own.
S390X_SUITES=(test/abi.test.ts test/abi-agreement.test.ts test/address-translation.test.ts
  test/conformance.test.ts test/emulated-absolute.test.ts test/key-protection.test.ts
  test/kvm-backend.test.ts test/real-kvm.test.ts test/logical-properties.test.ts)
KVM_S390_VITEST_REPORT="$REPORT" run_s390x node_modules/vitest/vitest.mjs run --pool=threads "${S390X_SUITES[@]}" || status=$?
node ci/summarize-vitest.mjs "$REPORT" "s390x (qemu-user, big-endian)" || status=1

# The verdicts that matter here, read from the report.
node - "$REPORT" <<'EOF' || status=1
const report = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const tests = report.testResults.flatMap((f) => f.assertionResults.map((t) => ({ ...t, file: f.name })));
const problems = [];
const abi = tests.filter((t) => t.file.endsWith('test/abi-agreement.test.ts'));
if (abi.length === 0 || abi.some((t) => t.status !== 'passed')) problems.push(`ABI agreement: ${abi.filter((t) => t.status === 'passed').length}/${abi.length} passed`);
const noKvm = tests.filter((t) => t.ancestorTitles.some((a) => a.startsWith('no KVM:')));
if (noKvm.length === 0) problems.push('no real-KVM tests reported as "no KVM"');
if (noKvm.some((t) => t.status === 'passed' || t.status === 'failed')) problems.push('real-KVM tests ran under qemu-user');
const real = tests.filter((t) => t.ancestorTitles.some((a) => a.startsWith('real s390x KVM')));
if (real.length > 0) problems.push('real KVM was reported usable under qemu-user');
const conf = tests.filter((t) => t.file.endsWith('test/conformance.test.ts'));
console.log(`ABI agreement ${abi.length} passed; conformance ${conf.filter((t) => t.status === 'passed').length} passed; ` +
  `real-KVM tests skipped: ${noKvm.length} ("${noKvm[0]?.ancestorTitles.find((a) => a.startsWith('no KVM:')) ?? ''}")`);
for (const p of problems) console.error(`s390x check failed: ${p}`);
process.exit(problems.length ? 1 : 0);
EOF
step "done"
echo "ci/s390x.sh took $((SECONDS - t0)) s"
exit "$status"
