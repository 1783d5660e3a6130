#!/usr/bin/env bash
# The real-kernel test bed (npm run test:real-kvm; .ci/run calls it): real Debian s390x kernels
# with a working /dev/kvm, booted under the Hercules emulator on this x86 machine, run the
# project's real backend: probe, conformance --backend kvm, the vitest real-KVM suites, and a
# differential run real vs emulated. Reports land in reports/real-kvm/<release>/; one line per
# kernel says "real KVM <release> (<profile>): N passed, M failed, K skipped". Exit 1 on any
# failure. How and why: ../shared/notes/real-kvm-under-hercules.md and README "Testing against a
# real kernel". The kernel's own KVM memop selftest (ci/real-kvm/selftest.sh) runs too, as a
# baseline for the bed: reported apart (selftest.json), never counted in that line.
#   --kernels LIST     Debian suites whose kernels to boot (default bookworm,trixie,forky)
#   --scenarios N      differential scenarios per kernel (default 500; 0 skips it)
#   --seed N           differential seed (default: the date, printed)
#   --vitest FILES     the vitest files run in the guest (default: every suite that needs KVM; '' skips vitest)
#   --no-shrink        keep differential disagreements as generated (shrinking reruns each many
#                      times on the emulated CPU)
#   --differential-report-only
#                      list the differential's unexplained disagreements without failing on them
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
kernels="bookworm,trixie,forky"
scenarios=500
seed="$(date +%Y%m%d)"
shrink=""
vitest_files="test/kvm-backend.test.ts test/abi-agreement.test.ts test/real-kvm.test.ts"
while [ $# -gt 0 ]; do
  case "$1" in
    --kernels) kernels="$2"; shift 2 ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --vitest) vitest_files="$2"; shift 2 ;;
    --no-shrink) shrink="--no-shrink"; shift ;;
    --differential-report-only) export KVM_S390_BED_DIFFERENTIAL=report; shift ;;
    *) echo "run.sh: unknown option $1 (see the header of ci/real-kvm/run.sh)" >&2; exit 2 ;;
  esac
done
t0=$SECONDS
CACHE="${KVM_S390_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-s390-ci}"
export KVM_S390_CI_CACHE="$CACHE"
mkdir -p "$CACHE" reports/real-kvm
# shellcheck source=../lib/debian-s390x.sh
source ci/lib/debian-s390x.sh

echo "== Hercules, kernels, busybox, s390x Node"
HERCULES="$(bash ci/real-kvm/hercules.sh)"
BUSYBOX="$(debian_busybox)"
SYSROOT="$(debian_node_sysroot)"
echo "   ready after $((SECONDS - t0)) s"

echo "== the guest's copy of the project (dist, s390x prebuild, s390x test-runner packages)"
npm run build >/dev/null
SCRATCH="$(mktemp -d /tmp/kvm-s390-bed.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
bash ci/lib/s390x-tree.sh "$SCRATCH/tree" >&2
echo "   tree $(du -sh "$SCRATCH/tree" | cut -f1) after $((SECONDS - t0)) s"

status=0
summary=()
IFS=',' read -r -a suites <<<"$kernels"
for suite in "${suites[@]}"; do
  kdir="$(bash ci/real-kvm/kernel.sh "$suite")"
  # shellcheck disable=SC1091
  . "$kdir/VERSION"
  out="reports/real-kvm/$release"
  rm -rf "$out" && mkdir -p "$out"
  cp "$kdir/VERSION" "$out/kernel-package.txt"
  echo "== $release ($package $version, Debian $suite)"
  # The kernel's own memop selftest as the bed's baseline; a kernel without one still runs ours.
  selftest=()
  if memop="$(bash ci/real-kvm/selftest.sh "$suite" "$kdir" 2>"$out/selftest-build.log")"; then
    selftest=(--selftest "$memop")
    cp "$(dirname "$memop")/SOURCE" "$out/selftest-source.txt"
  else
    echo "   no selftest baseline for this kernel: $(tail -n 1 "$out/selftest-build.log")"
  fi
  node ci/real-kvm/image.mjs --busybox "$BUSYBOX" --sysroot "$SYSROOT" --tree "$SCRATCH/tree" \
    --kernel-dir "$kdir" --init ci/real-kvm/guest-init.sh --out "$SCRATCH/initrd.cpio" \
    --env "BED_SCENARIOS=$scenarios" --env "BED_SEED=$seed" --env "BED_VITEST=$vitest_files" --env "BED_SHRINK=$shrink" \
    ${selftest[@]+"${selftest[@]}"}
  node ci/real-kvm/boot.mjs --hercules "$HERCULES" --kernel "$kdir/vmlinuz" --initrd "$SCRATCH/initrd.cpio" \
    --out "$out" --timeout 2400 || true
  line="$(node ci/real-kvm/report.mjs "$out" "$suite")" || status=1
  echo "$line"
  summary+=("$line")
done
echo "== summary ($((SECONDS - t0)) s)"
printf '%s\n' "${summary[@]}"
# One closing line over every kernel, in the form CI runners read.
printf '%s\n' "${summary[@]}" | awk -F'[:,] *' '{ sub(/;.*/, ""); for (i = 2; i <= NF; i++) { split($i, w, " "); n[w[2]] += w[1] } }
  END { printf "real-kvm: %d passed, %d failed, %d skipped\n", n["passed"], n["failed"], n["skipped"] }'
exit "$status"
