#!/bin/busybox sh
# /init of the real-KVM test-bed guest (an s390x Linux under Hercules). Loads kvm, runs the
# project's entry points against /dev/kvm, and sends every result back through the console as
# base64 between markers (ci/real-kvm/boot.mjs decodes them). /etc/bed.env says what to run.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
echo 1 >/proc/sys/kernel/printk # the console carries results: only emergencies besides
. /etc/bed.env

send() { # NAME FILE
  echo "KVMS390-FILE-BEGIN $1"
  base64 "$2"
  echo "KVMS390-FILE-END $1"
}
now() { cut -d' ' -f1 /proc/uptime; }
timed() { # NAME COMMAND... : runs it, keeps its output and exit status, logs the time
  local name="$1" t0 rc
  shift
  t0=$(now)
  "$@" >"/tmp/$name.out" 2>&1
  rc=$?
  echo "$name exit=$rc seconds=$(awk "BEGIN{print $(now)-$t0}")" >>/tmp/steps.txt
  tail -n 5 "/tmp/$name.out"
  send "$name.out" "/tmp/$name.out"
  return $rc
}

for m in $(cat /modules/ORDER); do insmod "/modules/$m.ko" || echo "insmod $m failed"; done
# Before the gmap rewrite a process needs page-status tables for KVM_CREATE_VM (EINVAL without).
[ -w /proc/sys/vm/allocate_pgste ] && echo 1 >/proc/sys/vm/allocate_pgste
uname -r >/tmp/release
send release /tmp/release
cd /opt/kvm-s390 || exit 1
cli="node dist/cli/main.js"

timed probe $cli probe --backend kvm --json
cp /tmp/probe.out /tmp/probe.json
send probe.json /tmp/probe.json
timed conformance $cli conformance --backend kvm --json /tmp/conformance.json --junit /tmp/conformance.xml
[ -f /tmp/conformance.json ] && send conformance.json /tmp/conformance.json
[ -f /tmp/conformance.xml ] && send conformance.xml /tmp/conformance.xml
if [ -n "$BED_VITEST" ]; then
  export KVM_S390_VITEST_REPORT=/tmp/vitest.json
  timed vitest node node_modules/vitest/vitest.mjs run --pool=threads $BED_VITEST
  [ -f /tmp/vitest.json ] && send vitest.json /tmp/vitest.json
fi
if [ "${BED_SCENARIOS:-0}" -gt 0 ]; then
  timed differential $cli conformance --differential --seed "$BED_SEED" --count "$BED_SCENARIOS" --out /tmp/differential --json /tmp/differential.json $BED_SHRINK
  [ -f /tmp/differential.json ] && send differential.json /tmp/differential.json
  if [ -d /tmp/differential ]; then
    tar -cf /tmp/differential.tar -C /tmp differential
    send differential.tar /tmp/differential.tar
  fi
fi
if [ -x /opt/selftest/memop ]; then
  timed selftest-memop /opt/selftest/memop
fi
send steps.txt /tmp/steps.txt
echo "KVMS390-DONE 0"
# The SCLP console driver sends in the background: give it time before the power goes.
sleep 10
poweroff -f
