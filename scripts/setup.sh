#!/usr/bin/env bash
# Installs everything the tests, the sandbox and the benchmarks need, from scratch, idempotently:
# node packages, Debian's etcd-server (3.4), shellcheck, bats, openssl, and a project-local Python
# virtualenv (.venv) with a pinned moto server and cfn-lint.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0

say() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_apt+=(etcd-client)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
command -v bats >/dev/null 2>&1 || need_apt+=(bats)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    say "missing: ${need_apt[*]}; install them with: sudo apt-get install -y ${need_apt[*]}"
    exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  say "installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Debian's etcd-server package may start a system etcd on 127.0.0.1:2379; tests use their own addresses and ports.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ ! -x .venv/bin/moto_server ] || ! .venv/bin/pip show moto 2>/dev/null | grep -q "^Version: ${MOTO_VERSION}$" \
   || ! .venv/bin/pip show cfn-lint 2>/dev/null | grep -q "^Version: ${CFN_LINT_VERSION}$"; then
  say "creating .venv with moto ${MOTO_VERSION} and cfn-lint ${CFN_LINT_VERSION}"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "moto[server]==${MOTO_VERSION}" "cfn-lint==${CFN_LINT_VERSION}"
fi
say "ready: node $(node --version), $(etcd --version | head -1), moto ${MOTO_VERSION}, cfn-lint ${CFN_LINT_VERSION}"
