#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing: Chromium for the browser tests,
# mosquitto-clients (mosquitto_pub), the mosquitto broker (bench scenario 4), openssl and curl for the TLS tests with third-party clients, prometheus
# (promtool) for the check of the alert rules, faketime (libfaketime) for the agent's clock drills, strace for the tests of which thread
# makes a syscall (the agent's health reading, the ingest fsync).
# Part of `npm test`, so the README's test command sets up a fresh machine by itself.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
command -v strace >/dev/null 2>&1 || missing+=(strace)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: run 'sudo apt-get install -y ${missing[*]}' (browser and TLS tests need them)." >&2
  exit 1
fi
echo "Installing Debian packages for the tests: ${missing[*]}…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
