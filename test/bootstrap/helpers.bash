# Shared set-up for the bootstrap bats tests: the node's commands (apt-get, systemctl, kubeadm, aws,
# curl, ...) are stand-ins on PATH that append "command args" to $CALLS. SSM is a directory of files
# (put without --overwrite fails when the parameter exists, as in AWS); curl answers from response
# queues in $RESP (one line per call, the last line repeats).

# shellcheck disable=SC2016 # stand-in bodies are single-quoted: they expand when the stand-in runs
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPTS="${BOOTSTRAP_SCRIPTS_DIR:-$HERE/../../src/bootstrap/scripts}"

stub() { # stub NAME BODY: a stand-in that records its call, then runs BODY
  # shellcheck disable=SC2016 # $* and $CALLS expand in the stand-in, not here
  printf '#!/usr/bin/env bash\nprintf "%%s\\n" "%s $*" >>"$CALLS"\n%s\n' "$1" "${2:-exit 0}" >"$STUBS/$1"
  chmod +x "$STUBS/$1"
}

respond() { # respond QUEUE LINE...: what the next calls answer
  printf '%s\n' "${@:2}" >"$RESP/$1"
}

ssm_set() { # ssm_set NAME VALUE [POLLS_BEFORE_IT_APPEARS]
  local key
  key=$(tr / _ <<<"$1")
  printf '%s' "$2" >"$SSM/$key"
  [ -z "${3:-}" ] || echo "$3" >"$SSM/$key.after"
}

ssm_value() { cat "$SSM/$(tr / _ <<<"$1")"; }

calls() { cat "$CALLS"; }

# no_call PATTERN: fails when a recorded call matches PATTERN (grep -E). (`! cmd` never fails a bats test.)
no_call() {
  if grep -qE -- "$1" "$CALLS"; then
    echo "unexpected call: $(grep -E -- "$1" "$CALLS" | head -1)"
    return 1
  fi
}

# refute CMD...: fails when CMD succeeds.
refute() {
  if "$@"; then return 1; fi
}

# line_of PATTERN: the line number of the first call matching PATTERN (grep -E), or 0.
line_of() { grep -nE -m1 -- "$1" "$CALLS" | cut -d: -f1 || echo 0; }

setup_node() {
  set -o pipefail # as tripod-node runs them (set -euo pipefail)
  export TRIPOD_ROOT="$BATS_TEST_TMPDIR/root" STUBS="$BATS_TEST_TMPDIR/bin" CALLS="$BATS_TEST_TMPDIR/calls"
  export SSM="$BATS_TEST_TMPDIR/ssm" RESP="$BATS_TEST_TMPDIR/resp"
  mkdir -p "$TRIPOD_ROOT/etc" "$STUBS" "$SSM" "$RESP"
  : >"$CALLS"
  # etcd: the release setup.sh builds into .tripod/bin (test/integration/bootstrap-bats.test.ts passes the one it found)
  export PATH="$STUBS:$PATH" TRIPOD_SLEEP=true TRIPOD_SCRIPTS="$SCRIPTS"
  export TRIPOD_ETCD_BIN="${TRIPOD_TEST_ETCD_BIN:-$(cd "$HERE/../.." && pwd)/.tripod/bin/etcd}" TRIPOD_ETCDUTL="$STUBS/etcdutl"
  export TRIPOD_ETCD_VERSION=3.5.33 TRIPOD_ETCD_RELEASE_URL=https://releases.invalid/etcd
  export TRIPOD_ETCD_SHA_AMD64=unset TRIPOD_ETCD_SHA_ARM64=unset
  export TRIPOD_CLUSTER=t1 TRIPOD_REGION=eu-west-1 TRIPOD_ROLE=master TRIPOD_K8S_VERSION=1.32.4
  export TRIPOD_K8S_APT_REPO=https://repo.invalid TRIPOD_API_DNS=api.t1.example.com TRIPOD_API_LB_NAME=t1-api
  export TRIPOD_API_PORT=6443 TRIPOD_ETCD_CLIENT_PORT=2379 TRIPOD_ETCD_PEER_PORT=2380
  export TRIPOD_JOIN_PREFIX=/tripod/t1/join/ TRIPOD_PKI_PREFIX=/tripod/t1/pki/ TRIPOD_KMS_KEY=alias/tripod-t1
  export TRIPOD_RECONCILER_CERT_PARAM=/tripod/t1/pki/reconciler-client TRIPOD_WORKER_JOIN_PARAM=/tripod/t1/worker-join
  export TRIPOD_EVENT_SOURCE=tripod.node TRIPOD_EVENT_DETAIL_TYPE='Node Ready' TRIPOD_GROUP=t1-masters
  export TRIPOD_MEMBER_STARTED_DETAIL_TYPE='Member Started' TRIPOD_MEMBER_STARTED_EVERY=10 TRIPOD_MEMBER_STARTED_MAX=30
  export TRIPOD_LEARNER_READY_PERCENT=90
  export TRIPOD_LAUNCH_HOOK=tripod-master-launching TRIPOD_TERMINATE_HOOK=tripod-master-terminating
  export TRIPOD_SCHEDULABLE=false TRIPOD_JOIN_TIMEOUT=60 TRIPOD_LEAVE_TIMEOUT=60 TRIPOD_DRAIN_TIMEOUT=120
  export TRIPOD_TOKEN_TTL_SECONDS=86400 TRIPOD_TOKEN_RENEW_SECONDS=43200 TRIPOD_WATCHDOG_FAILURES=3
  export TRIPOD_CONFIG_PARAM=/tripod/t1/config TRIPOD_POD_SUBNET=10.244.0.0/16 TRIPOD_SERVICE_SUBNET=10.96.0.0/12
  # pinned inputs: the package key is stubs/release-key.asc (a test key), the AWS CLI a fake release
  export TRIPOD_K8S_KEY_FINGERPRINT=D9C7263ACD20689C96C5C1EA5AFFF2DE82E2A52C TRIPOD_CONTAINERD_VERSION=2.2
  export TRIPOD_AWS_CLI_VERSION=2.22.0 TRIPOD_AWS_CLI_URL=https://awscli.invalid
  # the pod network (fake_cni_manifest) and the group tripod kubeconfig certificates carry
  export TRIPOD_CNI=flannel TRIPOD_CNI_MANIFEST_URL=https://cni.invalid/v0.28.9/kube-flannel.yml
  export TRIPOD_CNI_DEFAULT_NETWORK=10.244.0.0/16 TRIPOD_ADMIN_GROUP=tripod:cluster-admins
  for cmd in apt-get apt-mark modprobe sysctl systemctl systemd-run snap; do stub "$cmd"; done
  # kubectl: `create token` prints a token; the kubeconfig it is given is recorded with its mode
  stub kubectl "$(cat "$HERE/stubs/kubectl.bash")"
  # gpg is the real one (its own home), so the key file is read as apt-key material really is
  mkdir -m 700 "$BATS_TEST_TMPDIR/gnupg"
  stub gpg "GNUPGHOME=\"$BATS_TEST_TMPDIR/gnupg\" exec $(command -v gpg) \"\$@\""
  cp "$HERE/stubs/release-key.asc" "$RESP/release-key"
  stub apt-cache 'case "$2" in containerd) echo "   containerd | 2.20.0-0ubuntu1 | https://archive.invalid noble-proposed/main Packages"; echo "   containerd | 2.2.1-0ubuntu1~24.04.3 | https://archive.invalid noble-updates/main Packages"; echo "   containerd | 2.2.0-0ubuntu1~24.04.1 | https://archive.invalid noble-security/main Packages"; echo "   containerd | 1.7.12-0ubuntu4 | https://archive.invalid noble/main Packages" ;; *) echo "   kubeadm | 1.32.5-1.1 | https://repo.invalid  Packages"; echo "   kubeadm | 1.32.4-1.1 | https://repo.invalid  Packages"; echo "   kubeadm | 1.31.9-1.1 | https://repo.invalid  Packages" ;; esac'
  stub containerd 'echo "            SystemdCgroup = false"'
  # kubeadm checks its configuration against a model of kubeadm's (stubs/kubeadm-config.mjs)
  export TRIPOD_TEST_STUBS="$HERE/stubs"
  stub kubeadm "$(cat "$HERE/stubs/kubeadm.bash")"
  stub aws "$(cat "$HERE/stubs/aws.bash")"
  stub curl "$(cat "$HERE/stubs/curl.bash")"
  respond instance-id i-0abc
  respond local-ipv4 10.0.1.5
  respond zone eu-west-1a
  respond readyz ok
  respond lifecycle InService # autoscaling/target-lifecycle-state: a master launched into its group
  fake_etcd_release "" # the release matches its pinned SHA-256 (tests that need a mismatch call it again)
  fake_aws_cli_release ""
  fake_cni_manifest ""
  # shellcheck source=/dev/null
  . "$SCRIPTS/lib.sh"
}

# fake_etcd_release [SHA]: the curl stand-in serves a tarball shaped like the official release
# (etcd-v<version>-linux-<arch>/etcd, etcdctl, etcdutl); its pinned SHA-256 is set to the tarball's
# own, or to SHA when given (a mismatch). Made once per .bats file (same bytes for every test; curl
# copies it), which keeps each test's set-up short.
fake_etcd_release() {
  local arch dir name sha tool
  case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=amd64 ;; esac
  name="etcd-v$TRIPOD_ETCD_VERSION-linux-$arch"
  dir="${BATS_FILE_TMPDIR:-$BATS_TEST_TMPDIR}/release-$name"
  if [ ! -f "$dir/$name.tar.gz" ]; then
    mkdir -p "$dir/$name"
    for tool in etcd etcdctl etcdutl; do
      printf '#!/bin/sh\necho "%s Version: %s"\n' "$tool" "$TRIPOD_ETCD_VERSION" >"$dir/$name/$tool"
      chmod +x "$dir/$name/$tool"
    done
    tar -czf "$dir/$name.tar.gz.part" -C "$dir" "$name" && mv "$dir/$name.tar.gz.part" "$dir/$name.tar.gz"
  fi
  echo "$dir/$name.tar.gz" >"$RESP/etcd-tarball"
  sha=$(sha256sum "$dir/$name.tar.gz" | cut -d' ' -f1)
  export TRIPOD_ETCD_SHA_AMD64=${1:-$sha} TRIPOD_ETCD_SHA_ARM64=${1:-$sha}
}

# fake_aws_cli_release [SHA]: the curl stand-in serves a zip shaped like the AWS CLI's (aws/install,
# which records its call); its pinned SHA-256 is the zip's own, or SHA when given (a mismatch). Made
# once per .bats file, as the etcd release (zipping starts a Python: most of a test's set-up time).
fake_aws_cli_release() {
  local dir="${BATS_FILE_TMPDIR:-$BATS_TEST_TMPDIR}/awscli" sha
  if [ ! -f "$dir/awscli.zip" ]; then
    mkdir -p "$dir/aws"
    # shellcheck disable=SC2016 # expands when the installer runs
    printf '#!/bin/sh\necho "aws/install $*" >>"$CALLS"\n' >"$dir/aws/install"
    chmod +x "$dir/aws/install"
    (cd "$dir" && rm -f awscli.zip.part && python3 -m zipfile -c awscli.zip.part aws/ && mv awscli.zip.part awscli.zip)
  fi
  echo "$dir/awscli.zip" >"$RESP/awscli-zip"
  sha=$(sha256sum "$dir/awscli.zip" | cut -d' ' -f1)
  export TRIPOD_AWS_CLI_SHA_AMD64=${1:-$sha} TRIPOD_AWS_CLI_SHA_ARM64=${1:-$sha}
}

# fake_cni_manifest [SHA]: the curl stand-in serves a manifest shaped like Flannel's (its pod network
# in net-conf.json is TRIPOD_CNI_DEFAULT_NETWORK); its pinned SHA-256 is its own, or SHA (a mismatch).
fake_cni_manifest() {
  local f="$BATS_TEST_TMPDIR/kube-flannel.yml" sha
  printf '%s\n' 'apiVersion: v1' 'kind: ConfigMap' 'metadata: {name: kube-flannel-cfg, namespace: kube-flannel}' \
    'data:' '  net-conf.json: |' '    {' "      \"Network\": \"$TRIPOD_CNI_DEFAULT_NETWORK\"," \
    '      "Backend": {"Type": "vxlan"}' '    }' '---' 'apiVersion: apps/v1' 'kind: DaemonSet' \
    'metadata: {name: kube-flannel-ds, namespace: kube-flannel}' >"$f"
  echo "$f" >"$RESP/cni-manifest"
  sha=$(sha256sum "$f" | cut -d' ' -f1)
  export TRIPOD_CNI_MANIFEST_SHA256=${1:-$sha}
}

# no_secret_in_calls: fails when a recorded command line holds a key, a certificate, a token or any
# value stored as a secret in the SSM stand-in (each of its lines of 16+ characters).
no_secret_in_calls() {
  local f line
  no_call 'PRIVATE KEY|BEGIN CERTIFICATE|[a-z0-9]{6}\.[a-z0-9]{16}|eyJ[A-Za-z0-9_-]+\.' || return 1
  # shellcheck disable=SC2094 # $f is read, $CALLS searched: no file is written here
  for f in "$SSM"/*; do
    case "$f" in *.polls | *.after) continue ;; esac
    [ -f "$f" ] || continue
    while IFS= read -r line; do
      [ "${#line}" -ge 16 ] || continue
      if grep -qF -- "$line" "$CALLS"; then
        echo "a secret from $(basename "$f") is on a command line: $(grep -F -- "$line" "$CALLS" | head -1)"
        return 1
      fi
    done <"$f"
  done
}

# A fresh CA in a temp dir: make_ca DIR
make_ca() {
  mkdir -p "$1"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/ca.key" -out "$1/ca.crt" -days 1 -subj /CN=test-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,digitalSignature 2>/dev/null
}
