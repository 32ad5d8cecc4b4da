#!/usr/bin/env bash
# Installs the Debian packages the forwarding benchmark (bench/forwarder.ts) drives, if any
# are missing. Benchmarks are not run by CI; run this once on the machine that measures.
# Idempotent and quiet when everything is there. Needs root and apt-get.
set -euo pipefail
# iperf3: single-stream throughput; wrk: HTTP req/s and p99; nginx-light: the HTTP target (and
# what `berth run` serves); socat: the peer; curl: the bulk download; iproute2 and util-linux:
# `ip`, `unshare` and `setpriv` (the private network namespace, berth-test); passwd: useradd.
packages=(iperf3 wrk nginx-light socat curl iproute2 util-linux passwd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "bench/deps.sh: missing ${missing[*]} and no apt-get to install them; install them by hand" >&2
  exit 1
fi
echo "bench/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx on port 80 where a service manager runs; the benchmark uses its own nginx in a
# private network namespace, so the machine's does not get in the way, but it need not run either.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
  echo "bench/deps.sh: nginx.service is running (Debian starts it on install); stop it with: systemctl disable --now nginx" >&2
fi
