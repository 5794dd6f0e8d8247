#!/usr/bin/env bash
# Installs the Debian packages Vigil needs to build, test and run.
# Idempotent: installs only what is missing, and runs `apt-get update` only
# when there is something to install. Usage: ops/install-deps.sh [--check]
set -euo pipefail

# Build and runtime libraries (ARCHITECTURE.md "Dependencies").
PKGS_BUILD=(
  build-essential cmake pkg-config
  libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev libpq-dev
  libcivetweb-dev libsodium-dev libcurl4-openssl-dev libcmocka-dev
  librdkafka-dev libraft-dev libuv1-dev libjansson-dev libxxhash-dev
)
# Test tooling: fuzzers (clang-14 + libFuzzer runtime), real PostgreSQL,
# kcat against the Kafka mock cluster, python3 for SMTP/HTTP receivers,
# openssl for the alert tests' STARTTLS certificate.
PKGS_TEST=(
  clang-14 libclang-rt-14-dev postgresql kcat lmdb-utils python3 curl openssl
)
# The dashboard (frontend/): built with Node.js + npm, its browser test drives
# Debian's chromium. A node/npm already on the PATH (e.g. a newer Node.js from
# another source: Vite needs 20.19 or later, bookworm's nodejs is 18) is kept;
# Debian's are installed only when missing.
PKGS_TEST+=(chromium)
command -v node >/dev/null 2>&1 || PKGS_TEST+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS_TEST+=(npm)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help)
    echo "usage: $0 [--check]"
    echo "  installs missing Debian packages for Vigil (needs root)"
    echo "  --check  only list what is missing; exit 1 if anything is"
    exit 0 ;;
  "") ;;
  *) echo "$0: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS_BUILD[@]}" "${PKGS_TEST[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS_BUILD[@]}+${#PKGS_TEST[@]} packages present"
  exit 0
fi
echo "install-deps: missing: ${missing[*]}"
[ $check_only -eq 1 ] && exit 1

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: installing packages needs root; run as root:" >&2
  echo "  sudo $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} package(s)"
