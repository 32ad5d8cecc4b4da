#!/usr/bin/env bash
# Sourced by scripts/test-deps.sh and bench/deps.sh: installs the Debian
# packages in "$@" that are missing, naming the caller ($DEPS_NAME) in what
# it says. Idempotent and quiet when everything is there. Needs root and apt-get.
ensure_debian_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "$DEPS_NAME: missing ${missing[*]} and no apt-get to install them; install them by hand" >&2
    return 1
  fi
  echo "$DEPS_NAME: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
