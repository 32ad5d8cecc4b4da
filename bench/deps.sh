#!/usr/bin/env bash
# Installs the Debian packages the forwarding benchmark (bench/forwarder.ts) drives, if any
# are missing. Benchmarks are not run by CI; run this once on the machine that measures.
# Idempotent and quiet when everything is there. Needs root and apt-get.
set -euo pipefail
# iperf3: single-stream throughput; wrk: HTTP req/s and p99; nginx-light: the HTTP target (and
# what `berth run` serves); socat and haproxy: the peers; curl: the bulk download; iproute2 and util-linux:
# `ip`, `unshare` and `setpriv` (the private network namespace, berth-test); passwd: useradd.
packages=(iperf3 wrk nginx-light socat haproxy curl iproute2 util-linux passwd)
DEPS_NAME=bench/deps.sh
# shellcheck source=scripts/debian-packages.sh
source "$(dirname "$0")/../scripts/debian-packages.sh"
ensure_debian_packages "${packages[@]}"
# Debian starts nginx on port 80 where a service manager runs; the benchmark uses its own nginx in a
# private network namespace, so the machine's does not get in the way, but it need not run either.
for service in nginx haproxy; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    echo "bench/deps.sh: $service.service is running (Debian starts it on install); stop it with: systemctl disable --now $service" >&2
  fi
done
