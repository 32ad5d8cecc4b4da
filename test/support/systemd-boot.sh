#!/usr/bin/env bash
# Boots Debian's systemd as PID 1 on an overlay of / (FIELD-NOTES "systemd as
# PID 1 in a sandbox"). Run by test/support/systemd-sandbox.ts inside fresh
# pid/mount/net/uts/ipc/cgroup namespaces; never run it any other way: without
# the overlay, systemd's boot-time clean-up empties the machine's real /tmp.
#
#   $1  a directory on a tmpfs the caller mounted: upper/ work/ root/
#   $2  the systemd binary
#   $3  the target to boot
#   $4… SOURCE=TARGET pairs: directories shown read-only inside
set -euo pipefail
R=$1
SYSTEMD=$2
TARGET=$3
shift 3
N=$R/root

# Everything systemd and the tests write or delete lands in the tmpfs upper layer.
mount -t overlay berth-sandbox -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$N"
mount -t proc proc "$N/proc"
# Read-only, as systemd-nspawn does: global sysctls (kernel.*, vm.*, fs.*) are
# the machine's own, and systemd-sysctl.service would set them at boot.
mount --bind "$N/proc/sys" "$N/proc/sys"
mount -o remount,bind,ro "$N/proc/sys"
# A fresh sysfs (read-only: udev and friends stay off the machine's devices),
# and cgroup2 mounted here, inside the new cgroup namespace: it shows only the
# private cgroup the caller moved us into, so this systemd's slices and scopes
# never mix with the machine's or another sandbox's.
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$N/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$N/sys/fs/cgroup"
# A /dev of its own with the few nodes services use, as systemd-nspawn builds
# it: nothing inside can reach the machine's disks, ttys or /dev/shm.
mount -t tmpfs -o mode=0755,nosuid,size=4m berth-dev "$N/dev"
for node in null zero full random urandom tty; do
  touch "$N/dev/$node"
  mount --bind "/dev/$node" "$N/dev/$node"
done
# PID 1 writes its log to /dev/console, which must be a terminal: the pty that
# script(1) gives us, and logs to a file the caller reads (systemd-nspawn, too,
# hands the container a pty as its console).
touch "$N/dev/console"
mount --bind "$(tty)" "$N/dev/console"
mkdir "$N/dev/pts" "$N/dev/shm" "$N/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$N/dev/pts"
ln -s pts/ptmx "$N/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev berth-shm "$N/dev/shm"
ln -s /proc/self/fd "$N/dev/fd"
ln -s /proc/self/fd/0 "$N/dev/stdin"
ln -s /proc/self/fd/1 "$N/dev/stdout"
ln -s /proc/self/fd/2 "$N/dev/stderr"
# /run root's 0755 (the installer rightly refuses a world-writable /run); /tmp private.
mount -t tmpfs -o mode=0755,nosuid,nodev berth-run "$N/run"
mount -t tmpfs -o mode=1777,nosuid,nodev berth-tmp "$N/tmp"
for pair in "$@"; do
  source=${pair%%=*}
  target=$N${pair#*=}
  mkdir -p "$target"
  mount --bind "$source" "$target"
  mount -o remount,bind,ro "$target"
done

# pivot_root onto itself, then detach the old root stacked underneath: no
# /old directory is left in the overlay.
cd "$N"
pivot_root . .
umount -l .
cd /
# Tells systemd it runs in a container (it then skips what only a real machine needs).
export container=berth-sandbox
exec "$SYSTEMD" --system "--unit=$TARGET" --log-target=console --log-level=notice
