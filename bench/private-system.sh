#!/bin/sh
# Runs a benchmark inside the network and mount namespaces `unshare --net
# --mount --propagation private` made (package.json's bench:* scripts), with
# the machine's own files out of reach: the app a benchmark starts applies its
# settings through the real helper (the hosts block, the CLI links), and the
# helper writes the constant /etc/hosts, /etc/hosts.berth-backup and
# /usr/local/bin. Here /etc and /usr/local/bin are overlays whose writes land
# in a tmpfs on /mnt, gone with the namespace (as the tests' helpers get,
# test/support/processes.ts withPrivateSystemPaths). Usage: private-system.sh CMD [ARG...]
set -eu
ip link set lo up
mount -t tmpfs -o mode=0755 berth-bench /mnt
for dir in etc-upper etc-work bin-upper bin-work; do mkdir -p "/mnt/.system/$dir"; done
mount -t overlay berth-etc -o lowerdir=/etc,upperdir=/mnt/.system/etc-upper,workdir=/mnt/.system/etc-work /etc
mount -t overlay berth-bin -o lowerdir=/usr/local/bin,upperdir=/mnt/.system/bin-upper,workdir=/mnt/.system/bin-work /usr/local/bin
exec "$@"
