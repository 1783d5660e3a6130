#!/usr/bin/env bash
# Builds Hercules 4.x (SDL Hyperion) from the vendored tarball plus the hamaxpow patch, once, into
# a cache folder keyed by the sha256 of both inputs; a later run that finds the installed tree
# only prints its path. Why Hercules and why the patch: ../shared/notes/real-kvm-under-hercules.md.
# Prints the install prefix (with bin/hercules) as its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
vendor="${KVM_S390_VENDOR:-$root/../shared/vendor}"
tarball="$(ls "$vendor"/hyperion-*.tar.xz 2>/dev/null | head -1 || true)"
patch="$vendor/hyperion-hamaxpow.patch"
[ -n "$tarball" ] && [ -f "$tarball" ] && [ -f "$patch" ] ||
  { echo "hercules.sh: no Hercules source (hyperion-*.tar.xz and hyperion-hamaxpow.patch) in $vendor; set KVM_S390_VENDOR" >&2; exit 1; }

cache="${KVM_S390_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-s390-ci}"
key="$(cat "$tarball" "$patch" | sha256sum | cut -c1-16)"
prefix="$cache/hercules-$key"
if [ -f "$prefix/.complete" ]; then echo "$prefix"; exit 0; fi

if ! dpkg -s libltdl-dev >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends libltdl-dev >/dev/null
fi
work="$(mktemp -d /tmp/hercules-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rm -rf "$prefix"
tar -xJf "$tarball" -C "$work"
src="$(ls -d "$work"/hyperion-*/)"
(cd "$src" && patch -p1 -s <"$patch")
log="$work/build.log"
echo "hercules.sh: building Hercules in $src (log $log), about 5 minutes on 2 idle cores" >&2
(
  cd "$src"
  ./configure --prefix="$prefix" --enable-optimization=yes --disable-capabilities
  make -j"$(nproc)"
  make install
) >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
# The prefix is baked into Hercules (its module search path), so it is built in place and marked
# complete only after a whole install.
touch "$prefix/.complete"
echo "$prefix"
