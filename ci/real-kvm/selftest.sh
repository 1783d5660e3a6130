#!/usr/bin/env bash
# The kernel's own KVM memop selftest (tools/testing/selftests/kvm/s390/memop.c, s390x/ in older
# trees) for the kernel of a Debian suite, cross-built from that kernel's Debian source package
# into one static s390x binary: the test bed runs it in the guest as a baseline for the bed itself
# (what fails there is the machine's or the kernel's, not ours). Made once per source package
# version under $CACHE/selftest/<kernel version>/ and printed. A build that fails prints why on
# its last stderr line ("selftest.sh: …") and exits 1; the failure is remembered (FAILED) until
# this script changes, so a bed run does not pay for the same failed build again.
#   selftest.sh SUITE [KERNEL_DIR]   KERNEL_DIR: what ci/real-kvm/kernel.sh printed for SUITE
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite="${1:?usage: selftest.sh SUITE [KERNEL_DIR]}"
CACHE="${KVM_S390_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-s390-ci}"
# shellcheck source=../lib/debian-s390x.sh
source "$here/../lib/debian-s390x.sh"
fail() { echo "selftest.sh: $*" >&2; exit 1; }

kdir="${2:-$(bash "$here/kernel.sh" "$suite")}"
# shellcheck disable=SC1091
. "$kdir/VERSION" # suite package version release
series="$(echo "$version" | cut -d. -f1,2)"
source_pkg="linux-source-$series"
key="$source_pkg=$version $(sha256sum "$0" | cut -c1-16)"
dir="$CACHE/selftest/$version"
if [ -x "$dir/memop" ] && [ "$(cat "$dir/SOURCE" 2>/dev/null)" = "$source_pkg=$version" ]; then
  echo "$dir/memop"
  exit 0
fi
if [ "$(head -1 "$dir/FAILED" 2>/dev/null)" = "$key" ]; then fail "$(tail -1 "$dir/FAILED") (remembered; delete $dir to retry)"; fi

# From here on every failure is recorded with its reason.
work="$dir.work"
log="$work/build.log"
t0=$SECONDS
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
give_up() {
  [ -f "$log" ] && tail -n 15 "$log" >&2
  mkdir -p "$dir"
  printf '%s\n%s\n' "$key" "$*" >"$dir/FAILED"
  fail "$*"
}

if ! command -v s390x-linux-gnu-gcc >/dev/null || [ ! -e /usr/s390x-linux-gnu/lib/libc.a ]; then
  apt-get install -y -qq gcc-s390x-linux-gnu libc6-dev-s390x-cross >&2 || fail "no s390x cross compiler (apt-get install gcc-s390x-linux-gnu failed)"
fi

# linux-source-* is an arch-all package; the private s390x apt state of the suite lists it.
debian_cache "$suite" show "$source_pkg" >/dev/null 2>&1 || give_up "Debian $suite has no $source_pkg (has: $(debian_cache "$suite" search '^linux-source-[0-9]' | cut -d' ' -f1 | paste -sd' '))"
debian_download "$suite" "$work" "$source_pkg=$version" 2>"$log" \
  || give_up "$source_pkg $version (the kernel's version) could not be fetched from $(debian_mirror) for $suite: $(tail -n 1 "$log")"

# Only what the selftest build reads: the kernel's top-level build files to generate the uapi
# headers (make headers; headers_install would need rsync), and the tools tree of the selftests.
tree="$source_pkg"
dpkg-deb --fsys-tarfile "$work"/*.deb | tar -xO "./usr/src/$tree.tar.xz" | xz -dc \
  | tar -x -C "$work" --wildcards "$tree/Makefile" "$tree/Kbuild" "$tree/scripts/*" "$tree/arch/s390/*" \
    "$tree/include/*" "$tree/usr/*" "$tree/tools/testing/selftests/*" "$tree/tools/include/*" \
    "$tree/tools/arch/s390/*" "$tree/tools/scripts/*" "$tree/tools/lib/*" "$tree/tools/build/*" 2>>"$log" \
  || give_up "could not extract $tree.tar.xz from the $source_pkg package"
rm -f "$work"/*.deb
src="$work/$tree"
kvm="$src/tools/testing/selftests/kvm"
if [ -f "$kvm/s390/memop.c" ]; then test=s390/memop
elif [ -f "$kvm/s390x/memop.c" ]; then test=s390x/memop
else give_up "$source_pkg $version has no tools/testing/selftests/kvm/s390*/memop.c"
fi
make -C "$src" -s ARCH=s390 CROSS_COMPILE=s390x-linux-gnu- headers >>"$log" 2>&1 \
  || give_up "make headers failed in $source_pkg $version (see the lines above)"
# The selftest's own Makefile (it knows which library files each tree needs), static because the
# guest's glibc may be older than the cross toolchain's.
make -C "$kvm" -j2 ARCH=s390 CROSS_COMPILE=s390x-linux-gnu- LDFLAGS=-static OUTPUT="$work/out" \
  "$work/out/$test" >>"$log" 2>&1 \
  || give_up "building $test of $source_pkg $version failed: $(grep -m1 -E 'error|Error' "$log" || echo 'see the lines above')"
if s390x-linux-gnu-readelf -l "$work/out/$test" | grep -q INTERP; then give_up "$test of $source_pkg $version linked dynamically despite LDFLAGS=-static"; fi

rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
s390x-linux-gnu-strip -o "$dir.tmp/memop" "$work/out/$test"
echo "$source_pkg=$version" >"$dir.tmp/SOURCE"
echo "$test built in $((SECONDS - t0)) s with $(s390x-linux-gnu-gcc --version | head -1)" >"$dir.tmp/BUILD"
rm -rf "$dir" && mv "$dir.tmp" "$dir"
echo "selftest.sh: $(cat "$dir/BUILD")" >&2
echo "$dir/memop"
