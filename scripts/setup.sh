#!/usr/bin/env bash
# Installs everything the tests, the sandbox and the benchmarks need, from scratch, idempotently:
# node packages, etcd + etcdctl + etcdutl built with Go from tools/etcd/go.mod into .tripod/bin (the
# release the masters install, src/cluster-spec/versions.ts), shellcheck, bats, openssl, gpg, unzip, and a project-local
# Python virtualenv (.venv) with a pinned moto server, cfn-lint and kubernetes-validate.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
# validates manifests offline against the Kubernetes API schemas (test/integration/cni-manifest.test.ts)
KUBERNETES_VALIDATE_VERSION=1.37.0

say() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
command -v bats >/dev/null 2>&1 || need_apt+=(bats)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# the node scripts' tests run the real gpg (package key fingerprint) and unzip (the AWS CLI release)
command -v gpg >/dev/null 2>&1 || need_apt+=(gpg)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
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

# etcd: the pinned release, built from the Go module proxy (tools/etcd/go.mod pins it; a test checks
# that it is the version in src/cluster-spec/versions.ts). Skipped when the built binaries already say it.
ETCD_BIN_DIR=.tripod/bin
etcd_pin=$(sed -nE 's#^[[:space:]]*(require[[:space:]]+)?go\.etcd\.io/etcd/server/v3 v([0-9.]+)$#\2#p' tools/etcd/go.mod)
[ -n "$etcd_pin" ] || { say "cannot read the etcd version from tools/etcd/go.mod"; exit 1; }
etcd_built() {
  "$ETCD_BIN_DIR/etcd" --version 2>/dev/null | grep -x >/dev/null "etcd Version: $etcd_pin" &&
    "$ETCD_BIN_DIR/etcdctl" version 2>/dev/null | grep -x >/dev/null "etcdctl version: $etcd_pin" &&
    "$ETCD_BIN_DIR/etcdutl" version 2>/dev/null | grep -x >/dev/null "etcdutl version: $etcd_pin"
}
if ! etcd_built; then
  command -v go >/dev/null 2>&1 || { say "building etcd $etcd_pin needs Go (https://go.dev/doc/install), then run this again"; exit 1; }
  say "building etcd, etcdctl and etcdutl $etcd_pin with $(go version | cut -d' ' -f3) into $ETCD_BIN_DIR"
  mkdir -p "$ETCD_BIN_DIR"
  (cd tools/etcd && go build -trimpath -o "../../$ETCD_BIN_DIR/" ./etcd go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3)
  etcd_built || { say "the built etcd does not report version $etcd_pin"; exit 1; }
fi

# The pod network manifest the masters install (src/cluster-spec/versions.ts pins version and SHA-256), for the
# offline schema test: the same file comes from the Go module proxy (flannel's module holds it), and
# must have the pinned checksum, which also cross-checks the pin against a second source.
flannel_version=$(sed -nE "s#^export const FLANNEL_VERSION = '([0-9.]+)';#\1#p" src/cluster-spec/versions.ts)
flannel_sha=$(sed -nE "s#^export const FLANNEL_MANIFEST_SHA256 = '([0-9a-f]{64})';#\1#p" src/cluster-spec/versions.ts)
flannel_file=.tripod/cni/kube-flannel-v${flannel_version}.yml
if [ -n "$flannel_version" ] && ! echo "$flannel_sha  $flannel_file" | sha256sum -c --status 2>/dev/null; then
  say "fetching the Flannel ${flannel_version} manifest from the Go module proxy"
  flannel_dir=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "github.com/flannel-io/flannel@v${flannel_version}" |
    sed -nE 's#^[[:space:]]*"Dir": "(.*)",?$#\1#p')
  mkdir -p .tripod/cni
  cp "$flannel_dir/Documentation/kube-flannel.yml" "$flannel_file"
  chmod 644 "$flannel_file"
  echo "$flannel_sha  $flannel_file" | sha256sum -c --status ||
    { say "the Flannel ${flannel_version} manifest does not have the SHA-256 pinned in src/cluster-spec/versions.ts"; exit 1; }
fi

# actionlint: checks every workflow (examples/workflows, .github/workflows; test/unit/action-workflows.test.ts).
# Built from the Go module proxy into the same project-local bin dir (its PyPI wrapper downloads a
# release binary at run time, which fails without general network access).
ACTIONLINT_VERSION=1.7.12
if ! "$ETCD_BIN_DIR/actionlint" -version 2>/dev/null | grep -x >/dev/null "v$ACTIONLINT_VERSION"; then
  command -v go >/dev/null 2>&1 || { say "installing actionlint $ACTIONLINT_VERSION needs Go (https://go.dev/doc/install), then run this again"; exit 1; }
  say "installing actionlint $ACTIONLINT_VERSION into $ETCD_BIN_DIR"
  mkdir -p "$ETCD_BIN_DIR"
  GOBIN="$PWD/$ETCD_BIN_DIR" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

if [ ! -x .venv/bin/moto_server ] || ! .venv/bin/pip show moto 2>/dev/null | grep >/dev/null "^Version: ${MOTO_VERSION}$" \
   || ! .venv/bin/pip show cfn-lint 2>/dev/null | grep >/dev/null "^Version: ${CFN_LINT_VERSION}$" \
   || ! .venv/bin/pip show kubernetes-validate 2>/dev/null | grep >/dev/null "^Version: ${KUBERNETES_VALIDATE_VERSION}$"; then
  say "creating .venv with moto ${MOTO_VERSION}, cfn-lint ${CFN_LINT_VERSION} and kubernetes-validate ${KUBERNETES_VALIDATE_VERSION}"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "moto[server]==${MOTO_VERSION}" "cfn-lint==${CFN_LINT_VERSION}" \
    "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}"
fi
say "ready: node $(node --version), etcd ${etcd_pin} and actionlint ${ACTIONLINT_VERSION} ($ETCD_BIN_DIR), moto ${MOTO_VERSION}, cfn-lint ${CFN_LINT_VERSION}"
