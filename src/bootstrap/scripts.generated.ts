// Generated from src/bootstrap/scripts/*.sh by `npm run bootstrap-scripts` (src/bootstrap/generate-scripts.ts).
// Do not edit: edit the scripts and run the generator.
export const BOOTSTRAP_SCRIPTS: Readonly<Record<string, string>> = {
  'etcd-member.sh': `#!/usr/bin/env bash
# tripod: the etcd phase of a master's bootstrap.
#
# Issues this member's own server and peer certificates for its address (signed by the cluster's
# etcd CA in ETCD_PKI_DIR, unless they already exist), then runs one etcd member with TLS on both
# the client and the peer side (client-cert-auth everywhere):
#   - ETCD_EXEC=1: exec etcd in the foreground (tests, the simulator's sandbox);
#   - otherwise:   write a systemd unit with Restart=always and start it (a real node).
#
# Inputs (environment):
#   ETCD_NAME                  member name (tripod uses the instance id)               required
#   ETCD_IP                    address to listen on and advertise                       required
#   ETCD_CLIENT_PORT           client port                                              2379
#   ETCD_PEER_PORT             peer port                                                2380
#   ETCD_DATA_DIR              data directory                                           /var/lib/etcd
#   ETCD_PKI_DIR               holds ca.crt + ca.key; gets server.* and peer.*          /etc/kubernetes/pki/etcd
#   ETCD_INITIAL_CLUSTER       name=peerURL,...                                         this member alone
#   ETCD_INITIAL_CLUSTER_STATE new (the seed) | existing (a join)                       new
#   ETCD_INITIAL_CLUSTER_TOKEN must be the same on every member                         tripod-etcd
#   ETCD_SCHEME                https | http (http only for tests: no TLS at all)        https
#   ETCD_HEARTBEAT_INTERVAL    milliseconds                                             100
#   ETCD_ELECTION_TIMEOUT      milliseconds                                             1000
#   ETCD_BIN                   the etcd binary                                          etcd
#   ETCD_EXEC                  1 = exec in the foreground                               0
#   ETCD_UNIT_DIR              where the systemd unit goes                              /etc/systemd/system
#   ETCD_CERT_DAYS             validity of the issued certificates                      3650
# Extra arguments are passed to etcd unchanged.
set -euo pipefail

log() { printf '[etcd-member] %s\\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

: "\${ETCD_NAME:?ETCD_NAME is required (the member name)}"
: "\${ETCD_IP:?ETCD_IP is required (the address to listen on and advertise)}"
ETCD_CLIENT_PORT="\${ETCD_CLIENT_PORT:-2379}"
ETCD_PEER_PORT="\${ETCD_PEER_PORT:-2380}"
ETCD_DATA_DIR="\${ETCD_DATA_DIR:-/var/lib/etcd}"
ETCD_PKI_DIR="\${ETCD_PKI_DIR:-/etc/kubernetes/pki/etcd}"
ETCD_SCHEME="\${ETCD_SCHEME:-https}"
ETCD_INITIAL_CLUSTER_STATE="\${ETCD_INITIAL_CLUSTER_STATE:-new}"
ETCD_INITIAL_CLUSTER_TOKEN="\${ETCD_INITIAL_CLUSTER_TOKEN:-tripod-etcd}"
ETCD_HEARTBEAT_INTERVAL="\${ETCD_HEARTBEAT_INTERVAL:-100}"
ETCD_ELECTION_TIMEOUT="\${ETCD_ELECTION_TIMEOUT:-1000}"
ETCD_BIN="\${ETCD_BIN:-etcd}"
ETCD_EXEC="\${ETCD_EXEC:-0}"
ETCD_UNIT_DIR="\${ETCD_UNIT_DIR:-/etc/systemd/system}"
ETCD_CERT_DAYS="\${ETCD_CERT_DAYS:-3650}"

case "$ETCD_SCHEME" in
  https | http) ;;
  *) die "ETCD_SCHEME must be https or http, got '$ETCD_SCHEME'" ;;
esac
case "$ETCD_INITIAL_CLUSTER_STATE" in
  new | existing) ;;
  *) die "ETCD_INITIAL_CLUSTER_STATE must be new or existing, got '$ETCD_INITIAL_CLUSTER_STATE'" ;;
esac
for port in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT" "$ETCD_HEARTBEAT_INTERVAL" "$ETCD_ELECTION_TIMEOUT"; do
  case "$port" in
    '' | *[!0-9]*) die "ports and intervals must be numbers, got '$port'" ;;
  esac
done

CLIENT_URL="\${ETCD_SCHEME}://\${ETCD_IP}:\${ETCD_CLIENT_PORT}"
PEER_URL="\${ETCD_SCHEME}://\${ETCD_IP}:\${ETCD_PEER_PORT}"
ETCD_INITIAL_CLUSTER="\${ETCD_INITIAL_CLUSTER:-\${ETCD_NAME}=\${PEER_URL}}"

case ",\${ETCD_INITIAL_CLUSTER}," in
  *",\${ETCD_NAME}=\${PEER_URL},"*) ;;
  *) die "ETCD_INITIAL_CLUSTER '\${ETCD_INITIAL_CLUSTER}' does not contain this member (\${ETCD_NAME}=\${PEER_URL})" ;;
esac

# Issues "$1".crt/"$1".key in ETCD_PKI_DIR for this member's address, for both server and client use
# (etcd's gateway and its peers dial with these certificates too). Kept if it already exists.
issue_cert() {
  local base="$ETCD_PKI_DIR/$1" ext
  if [ -s "$base.crt" ] && [ -s "$base.key" ]; then
    log "keeping existing $base.crt"
    return 0
  fi
  if [ ! -s "$ETCD_PKI_DIR/ca.crt" ] || [ ! -s "$ETCD_PKI_DIR/ca.key" ]; then
    die "the etcd CA (ca.crt and ca.key) is missing in $ETCD_PKI_DIR"
  fi
  ext="$(mktemp)"
  printf '%s\\n' \\
    "basicConstraints=critical,CA:FALSE" \\
    "keyUsage=critical,digitalSignature,keyEncipherment" \\
    "extendedKeyUsage=serverAuth,clientAuth" \\
    "subjectAltName=IP:\${ETCD_IP},IP:127.0.0.1,DNS:localhost,DNS:\${ETCD_NAME}" >"$ext"
  (
    umask 077
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \\
      -keyout "$base.key.tmp" -subj "/CN=\${ETCD_NAME}" -out "$base.csr" 2>/dev/null
  )
  openssl x509 -req -in "$base.csr" -CA "$ETCD_PKI_DIR/ca.crt" -CAkey "$ETCD_PKI_DIR/ca.key" \\
    -set_serial "0x$(openssl rand -hex 16)" -days "$ETCD_CERT_DAYS" -sha256 -extfile "$ext" \\
    -out "$base.crt.tmp" 2>/dev/null || die "could not issue $base.crt"
  rm -f "$ext" "$base.csr"
  mv "$base.key.tmp" "$base.key"
  mv "$base.crt.tmp" "$base.crt"
  log "issued $base.crt for \${ETCD_IP}"
}

mkdir -p "$ETCD_DATA_DIR"
chmod 700 "$ETCD_DATA_DIR"

args=(
  "--name=\${ETCD_NAME}"
  "--data-dir=\${ETCD_DATA_DIR}"
  "--listen-client-urls=\${CLIENT_URL}"
  "--advertise-client-urls=\${CLIENT_URL}"
  "--listen-peer-urls=\${PEER_URL}"
  "--initial-advertise-peer-urls=\${PEER_URL}"
  "--initial-cluster=\${ETCD_INITIAL_CLUSTER}"
  "--initial-cluster-state=\${ETCD_INITIAL_CLUSTER_STATE}"
  "--initial-cluster-token=\${ETCD_INITIAL_CLUSTER_TOKEN}"
  "--heartbeat-interval=\${ETCD_HEARTBEAT_INTERVAL}"
  "--election-timeout=\${ETCD_ELECTION_TIMEOUT}"
  "--strict-reconfig-check=true"
)

if [ "$ETCD_SCHEME" = https ]; then
  mkdir -p "$ETCD_PKI_DIR"
  issue_cert server
  issue_cert peer
  args+=(
    "--cert-file=\${ETCD_PKI_DIR}/server.crt"
    "--key-file=\${ETCD_PKI_DIR}/server.key"
    "--client-cert-auth=true"
    "--trusted-ca-file=\${ETCD_PKI_DIR}/ca.crt"
    "--peer-cert-file=\${ETCD_PKI_DIR}/peer.crt"
    "--peer-key-file=\${ETCD_PKI_DIR}/peer.key"
    "--peer-client-cert-auth=true"
    "--peer-trusted-ca-file=\${ETCD_PKI_DIR}/ca.crt"
  )
fi
args+=("$@")

log "member \${ETCD_NAME}: client \${CLIENT_URL}, peer \${PEER_URL}, cluster state \${ETCD_INITIAL_CLUSTER_STATE}"

if [ "$ETCD_EXEC" = 1 ]; then
  # etcd reads ETCD_* variables as flags and refuses to start when one repeats a flag: every input
  # is in args now, so none of them may reach etcd's environment.
  etcd_bin="$ETCD_BIN"
  while IFS= read -r var; do
    case "$var" in ETCD_*) unset "$var" ;; esac
  done < <(compgen -e)
  exec "$etcd_bin" "\${args[@]}"
fi

# A real node: a systemd service that comes back by itself when etcd crashes.
bin_path="$(command -v "$ETCD_BIN")" || die "etcd binary '$ETCD_BIN' not found"
unit="$ETCD_UNIT_DIR/etcd.service"
mkdir -p "$ETCD_UNIT_DIR"
{
  printf '%s\\n' \\
    "# Written by tripod's etcd-member.sh" \\
    "[Unit]" \\
    "Description=etcd member \${ETCD_NAME} (tripod)" \\
    "After=network-online.target" \\
    "Wants=network-online.target" \\
    "" \\
    "[Service]" \\
    "Type=notify" \\
    "ExecStart=\${bin_path} \${args[*]}" \\
    "Restart=always" \\
    "RestartSec=5" \\
    "LimitNOFILE=65536" \\
    "TimeoutStartSec=0" \\
    "" \\
    "[Install]" \\
    "WantedBy=multi-user.target"
} >"$unit.tmp"
mv "$unit.tmp" "$unit"
log "wrote $unit"
systemctl daemon-reload
systemctl enable etcd.service
systemctl restart etcd.service
log "etcd.service started"
`,
  'lib.sh': `#!/usr/bin/env bash
# tripod node library: functions shared by masters and workers. Sourced, never run.
# Configuration comes from /etc/tripod/node.env (rendered by src/bootstrap/render.ts); every
# secret (CAs, tokens) comes from SSM SecureString at boot, never from user data. A secret never
# goes on a command line (every local process can read those): values reach aws through 0600 files
# (file://), jq through stdin, kubectl through a 0600 kubeconfig; files holding one are 0600.
# Paths are overridable so the bats tests can run every function in a temp dir.

: "\${TRIPOD_ROOT:=}"                                # prefix for every file path (tests)
: "\${TRIPOD_ETC:=$TRIPOD_ROOT/etc/tripod}"
: "\${TRIPOD_STATE:=$TRIPOD_ROOT/var/lib/tripod}"
: "\${TRIPOD_PKI:=$TRIPOD_ROOT/etc/kubernetes/pki}"
: "\${TRIPOD_KUBE_ETC:=$TRIPOD_ROOT/etc/kubernetes}"
: "\${TRIPOD_SYSTEMD:=$TRIPOD_ROOT/etc/systemd/system}"
: "\${TRIPOD_HOSTS:=$TRIPOD_ROOT/etc/hosts}"
: "\${TRIPOD_IMDS:=http://169.254.169.254}"
: "\${TRIPOD_BIN:=/opt/tripod/tripod-node}"
: "\${TRIPOD_SLEEP:=sleep}"                          # tests make waiting instant
: "\${TRIPOD_AWS_CLI_URL:=https://awscli.amazonaws.com}" # the AWS CLI's official releases

log() { printf '[tripod %s] %s\\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  export LAST_ERROR="$*" # for the boot-failed record (report_boot_failure)
  exit 1
}

# retry_backoff MAX_SECONDS CMD...: runs CMD until it succeeds, sleeping 2, 4, 8 ... 30 s between
# attempts; fails once MAX_SECONDS of waiting have passed.
retry_backoff() {
  local max=$1 waited=0 delay=2
  shift
  until "$@"; do
    if [ "$waited" -ge "$max" ]; then
      log "gave up after \${waited}s: $*"
      return 1
    fi
    "$TRIPOD_SLEEP" "$delay"
    waited=$((waited + delay))
    delay=$((delay * 2))
    [ "$delay" -le 30 ] || delay=30
  done
}

# --- instance metadata (IMDSv2) ---------------------------------------------------------------
imds() {
  local token
  token=$(curl -sf -X PUT "$TRIPOD_IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') ||
    return 1
  curl -sf -H "X-aws-ec2-metadata-token: $token" "$TRIPOD_IMDS/latest/meta-data/$1"
}

# Sets INSTANCE_ID, NODE_IP and ZONE (each overridable from the environment).
node_identity() {
  INSTANCE_ID=\${INSTANCE_ID:-$(retry_backoff 60 imds instance-id)} || die "no instance id from IMDS"
  NODE_IP=\${NODE_IP:-$(retry_backoff 60 imds local-ipv4)} || die "no private IP from IMDS"
  ZONE=\${ZONE:-$(retry_backoff 60 imds placement/availability-zone)} || die "no zone from IMDS"
  export INSTANCE_ID NODE_IP ZONE
  log "instance $INSTANCE_ID, address $NODE_IP, zone $ZONE"
}

# --- SSM parameters ---------------------------------------------------------------------------
ssm_get() {
  aws ssm get-parameter --region "$TRIPOD_REGION" --name "$1" --with-decryption \\
    --query Parameter.Value --output text 2>/dev/null
}

# report_boot_failure STATUS (the boot's EXIT trap): a master whose bootstrap stopped writes why to its
# boot-failed record, so the reconciler abandons the launch (removing any member it had first) at once
# instead of holding the one learner slot for the whole boot timeout.
report_boot_failure() {
  local rc=$1 why
  [ "$rc" != 0 ] || return 0
  INSTANCE_ID=\${INSTANCE_ID:-$(imds instance-id)} || return 0
  why="bootstrap stopped (status $rc)\${LAST_ERROR:+: $LAST_ERROR}; log: /var/log/tripod-bootstrap.log"
  aws ssm put-parameter --region "$TRIPOD_REGION" --name "$TRIPOD_BOOT_FAILED_PREFIX$INSTANCE_ID" \\
    --type String --overwrite --value "\${why:0:1000}" >/dev/null ||
    log "could not write the boot-failed record: the reconciler waits for the boot timeout"
}

# private_file PATH: creates or empties PATH as 0600 before anything secret is written to it.
private_file() {
  mkdir -p "$(dirname "$1")"
  (umask 077 && : >"$1") && chmod 600 "$1"
}

# ssm_put_secret NAME [--overwrite] <VALUE: stdin as a SecureString under the cluster's own KMS key
# (TRIPOD_KMS_KEY), through a 0600 temp file the CLI reads (file://) and that is removed after. Without
# --overwrite it fails when the parameter exists (how the seed creates the CAs exactly once).
ssm_put_secret() {
  local f rc=0
  f=$(mktemp) # 0600
  cat >"$f"
  aws ssm put-parameter --region "$TRIPOD_REGION" --name "$1" --type SecureString --key-id "$TRIPOD_KMS_KEY" \\
    --tier Intelligent-Tiering --value "file://$f" \${2:+"$2"} >/dev/null || rc=$?
  rm -f "$f"
  return "$rc"
}

# --- every node: kernel, container runtime, Kubernetes packages -----------------------------------
setup_kernel() {
  mkdir -p "$TRIPOD_ROOT/etc/modules-load.d" "$TRIPOD_ROOT/etc/sysctl.d"
  printf '%s\\n' overlay br_netfilter >"$TRIPOD_ROOT/etc/modules-load.d/tripod-k8s.conf"
  modprobe overlay
  modprobe br_netfilter
  printf '%s\\n' 'net.bridge.bridge-nf-call-iptables = 1' 'net.bridge.bridge-nf-call-ip6tables = 1' \\
    'net.ipv4.ip_forward = 1' >"$TRIPOD_ROOT/etc/sysctl.d/99-tripod-k8s.conf"
  sysctl --system >/dev/null
}

# Keeps packaged services from starting during apt-get install (the etcd package would start a
# default member); removed again at the end of install_packages.
hold_service_starts() {
  printf '#!/bin/sh\\nexit 101\\n' >"$TRIPOD_ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$TRIPOD_ROOT/usr/sbin/policy-rc.d"
}

# install_packages ROLE: containerd, the AWS CLI, etcd (masters: install_etcd in master.sh), and
# kubelet/kubeadm/kubectl pinned to TRIPOD_K8S_VERSION from the Kubernetes package repository of its
# minor version, whose signing key must have the pinned fingerprint. Versions: src/cluster-spec/versions.ts.
install_packages() {
  local role=$1 keyring="$TRIPOD_ROOT/etc/apt/keyrings/kubernetes.gpg" repo pin key
  local k8s_minor=\${TRIPOD_K8S_VERSION%.*}
  repo="$TRIPOD_K8S_APT_REPO/core:/stable:/v\${k8s_minor}/deb/"
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p "$TRIPOD_ROOT/etc/apt/keyrings" "$TRIPOD_ROOT/etc/apt/sources.list.d" "$TRIPOD_ROOT/usr/sbin"
  hold_service_starts
  retry_backoff 300 apt-get update -q
  retry_backoff 300 apt-get install -y -q apt-transport-https ca-certificates curl gpg jq unzip
  # as early as it can (it needs unzip): a warm pool's prepare heartbeats its hook with it
  install_aws_cli
  pin=$(apt_package_version containerd "$TRIPOD_CONTAINERD_VERSION") || die "containerd $TRIPOD_CONTAINERD_VERSION is not in the archive"
  retry_backoff 300 apt-get install -y -q --allow-downgrades "containerd=$pin"
  key=$(mktemp)
  retry_backoff 300 curl -fsSL -o "$key" "\${repo}Release.key" || die "cannot download \${repo}Release.key"
  [ "$(key_fingerprints "$key")" = "$TRIPOD_K8S_KEY_FINGERPRINT" ] ||
    die "\${repo}Release.key is not the pinned key $TRIPOD_K8S_KEY_FINGERPRINT (has: $(key_fingerprints "$key" | tr '\\n' ' '))"
  gpg --batch --yes --dearmor -o "$keyring" "$key"
  rm -f "$key"
  printf 'deb [signed-by=%s] %s /\\n' "/etc/apt/keyrings/kubernetes.gpg" "$repo" \\
    >"$TRIPOD_ROOT/etc/apt/sources.list.d/kubernetes.list"
  retry_backoff 300 apt-get update -q
  pin=$(apt_package_version kubeadm "$TRIPOD_K8S_VERSION") || die "kubeadm $TRIPOD_K8S_VERSION is not in $repo"
  retry_backoff 300 apt-get install -y -q --allow-downgrades "kubelet=$pin" "kubeadm=$pin" "kubectl=$pin"
  apt-mark hold containerd kubelet kubeadm kubectl >/dev/null
  rm -f "$TRIPOD_ROOT/usr/sbin/policy-rc.d"
  if [ "$role" = master ]; then install_etcd; fi
  configure_containerd
}

# key_fingerprints FILE: the fingerprints of the primary keys in an OpenPGP key file, one a line.
key_fingerprints() {
  gpg --batch --show-keys --with-colons "$1" 2>/dev/null | awk -F: '$1 == "pub" { p = 1; next } p && $1 == "fpr" { print $10; p = 0 }'
}

# install_aws_cli: AWS CLI v2 release TRIPOD_AWS_CLI_VERSION from its official zip, checked against the
# pinned SHA-256 (TRIPOD_AWS_CLI_SHA_<ARCH>) before it is unpacked. Kept when already installed.
install_aws_cli() {
  local v=$TRIPOD_AWS_CLI_VERSION arch sha w="$TRIPOD_STATE/awscli-download" f
  case "$(uname -m)" in
    x86_64) arch=x86_64 sha=$TRIPOD_AWS_CLI_SHA_AMD64 ;;
    aarch64) arch=aarch64 sha=$TRIPOD_AWS_CLI_SHA_ARM64 ;;
    *) die "no AWS CLI release for $(uname -m)" ;;
  esac
  case "$(aws --version 2>/dev/null)" in "aws-cli/$v "*) return 0 ;; esac
  f="awscli-exe-linux-$arch-$v.zip"
  mkdir -p "$w"
  retry_backoff 300 curl -fsSL -o "$w/$f" "$TRIPOD_AWS_CLI_URL/$f" || die "cannot download $TRIPOD_AWS_CLI_URL/$f"
  (cd "$w" && echo "$sha  $f" | sha256sum -c --quiet -) || die "$f does not match its pinned SHA-256 $sha: AWS CLI NOT installed"
  { unzip -q -o "$w/$f" -d "$w" && "$w/aws/install" --update -i "$TRIPOD_ROOT/usr/local/aws-cli" -b "$TRIPOD_ROOT/usr/local/bin"; } ||
    die "cannot install $f"
  rm -rf "$w"
  log "installed AWS CLI $v"
}

# apt_package_version PKG 1.32.4 -> the repository's full version string (1.32.4-1.1); PKG 2.2 -> the
# newest build of the 2.2 line (2.2.1-0ubuntu1~24.04.3).
apt_package_version() {
  # awk reads to the end: exiting early would kill apt-cache with SIGPIPE (a failure under pipefail)
  apt-cache madison "$1" | awk -F'|' -v v="$2" '{ gsub(/ /, "", $2) } !found && (index($2, v "-") == 1 || index($2, v ".") == 1) { print $2; found = 1 }' |
    grep .
}

configure_containerd() {
  mkdir -p "$TRIPOD_ROOT/etc/containerd"
  containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' \\
    >"$TRIPOD_ROOT/etc/containerd/config.toml"
  systemctl restart containerd
}

# --- reliable services: Restart=always, and a watchdog that gives up on a broken node -------------
# write_restart_dropins UNIT...: a drop-in so a crashed service comes back by itself.
write_restart_dropins() {
  local unit
  for unit in "$@"; do
    mkdir -p "$TRIPOD_SYSTEMD/$unit.service.d"
    printf '%s\\n' '# tripod: a crashed service comes back by itself' '[Unit]' 'StartLimitIntervalSec=0' \\
      '[Service]' 'Restart=always' 'RestartSec=5' >"$TRIPOD_SYSTEMD/$unit.service.d/10-tripod-restart.conf"
  done
  systemctl daemon-reload
}

# write_timer NAME DESCRIPTION INTERVAL COMMAND...: a oneshot service run by a systemd timer.
write_timer() {
  local name=$1 desc=$2 every=$3
  shift 3
  mkdir -p "$TRIPOD_SYSTEMD"
  printf '%s\\n' '[Unit]' "Description=$desc" '[Service]' 'Type=oneshot' "ExecStart=$*" \\
    >"$TRIPOD_SYSTEMD/$name.service"
  printf '%s\\n' '[Unit]' "Description=$desc (timer)" '[Timer]' "OnBootSec=$every" "OnUnitActiveSec=$every" \\
    '[Install]' 'WantedBy=timers.target' >"$TRIPOD_SYSTEMD/$name.timer"
  systemctl daemon-reload
  systemctl enable --now "$name.timer"
}

# install_watchdog UNIT...: every 30 s checks the units; see watchdog_check.
install_watchdog() {
  mkdir -p "$TRIPOD_ETC"
  printf '%s\\n' "$@" >"$TRIPOD_ETC/watched-units"
  write_timer tripod-watchdog 'tripod: restart the services that stopped' 30s \\
    "$TRIPOD_BIN" watchdog
}

# watchdog_check: a unit that is not active is restarted; after TRIPOD_WATCHDOG_FAILURES failed
# checks in a row a worker is reported Unhealthy, so its Auto Scaling group replaces it. A master
# never is: it holds an etcd voter, and only the reconciler, which checks quorum, replaces a master
# for etcd's sake (an etcd crash loop on every master must not replace them all). It keeps restarting.
watchdog_check() {
  local unit bad=0 count_file="$TRIPOD_STATE/watchdog-failures" count
  mkdir -p "$TRIPOD_STATE"
  while IFS= read -r unit; do
    [ -n "$unit" ] || continue
    if ! systemctl is-active --quiet "$unit"; then
      log "watchdog: $unit is not active; restarting it"
      systemctl restart "$unit" || true
      bad=1
    fi
  done <"$TRIPOD_ETC/watched-units"
  if [ "$bad" = 0 ]; then
    echo 0 >"$count_file"
    return 0
  fi
  count=$(($(cat "$count_file" 2>/dev/null || echo 0) + 1))
  echo "$count" >"$count_file"
  [ "$count" -ge "\${TRIPOD_WATCHDOG_FAILURES:-6}" ] || return 0
  if [ "\${TRIPOD_ROLE:-}" = master ]; then
    log "watchdog: services still down after $count checks: still restarting (the reconciler decides about a master)"
  else
    log "watchdog: services still down after $count checks: reporting $INSTANCE_ID Unhealthy"
    report_worker_unhealthy
  fi
}

# report_worker_unhealthy: its Auto Scaling group replaces this worker (never called on a master).
report_worker_unhealthy() {
  aws autoscaling set-instance-health --region "$TRIPOD_REGION" --instance-id "$INSTANCE_ID" \\
    --health-status Unhealthy --no-should-respect-grace-period
}

# --- Kubernetes ---------------------------------------------------------------------------------
# The API endpoint name every node uses: the spec's DNS name, or the API load balancer's DNS name.
api_endpoint_name() {
  if [ -n "\${TRIPOD_API_DNS:-}" ]; then
    echo "$TRIPOD_API_DNS"
    return 0
  fi
  local name
  name=$(aws elbv2 describe-load-balancers --region "$TRIPOD_REGION" --names "$TRIPOD_API_LB_NAME" \\
    --query 'LoadBalancers[0].DNSName' --output text) && [ -n "$name" ] && [ "$name" != None ] ||
    return 1
  echo "$name"
}

# pin_api_endpoint NAME IP: resolve the API name to IP on this node (/etc/hosts). Masters point it
# at themselves: through the load balancer a target reaching itself times out (NLB hairpinning).
pin_api_endpoint() {
  local tmp
  tmp=$(mktemp)
  { grep -v "# tripod-api$" "$TRIPOD_HOSTS" 2>/dev/null || true; } >"$tmp"
  printf '%s %s # tripod-api\\n' "$2" "$1" >>"$tmp"
  cat "$tmp" >"$TRIPOD_HOSTS"
  rm -f "$tmp"
}

# kubeadm's v1beta4 (Kubernetes 1.31+) writes extra arguments as a list, v1beta3 as a map.
kubeadm_api() {
  local minor=\${TRIPOD_K8S_VERSION#1.}
  minor=\${minor%%.*}
  if [ "$minor" -ge 31 ]; then echo v1beta4; else echo v1beta3; fi
}

# extra_args INDENT NAME=VALUE...
extra_args() {
  local indent=$1 kv
  shift
  for kv in "$@"; do
    if [ "$(kubeadm_api)" = v1beta4 ]; then
      printf '%s- name: %s\\n%s  value: "%s"\\n' "$indent" "\${kv%%=*}" "$indent" "\${kv#*=}"
    else
      printf '%s%s: "%s"\\n' "$indent" "\${kv%%=*}" "\${kv#*=}"
    fi
  done
}

node_registration() {
  printf 'nodeRegistration:\\n  kubeletExtraArgs:\\n'
  extra_args '    ' "node-labels=topology.kubernetes.io/zone=$ZONE" "node-ip=$NODE_IP"
  [ "$1" = master ] && [ "\${TRIPOD_SCHEDULABLE:-false}" = true ] && printf '  taints: []\\n'
  return 0
}

# write_join_config ROLE DISCOVERY_ENDPOINT TOKEN CA_HASH: 0600, it holds the bootstrap token.
write_join_config() {
  private_file "$TRIPOD_ETC/kubeadm.yaml"
  {
    printf 'apiVersion: kubeadm.k8s.io/%s\\nkind: JoinConfiguration\\n' "$(kubeadm_api)"
    printf 'discovery:\\n  bootstrapToken:\\n    apiServerEndpoint: "%s"\\n    token: "%s"\\n' "$2" "$3"
    printf '    caCertHashes: ["%s"]\\n' "$4"
    node_registration "$1"
    [ "$1" = master ] &&
      printf 'controlPlane:\\n  localAPIEndpoint:\\n    advertiseAddress: %s\\n    bindPort: %s\\n' \\
        "$NODE_IP" "$TRIPOD_API_PORT"
    return 0
  } >"$TRIPOD_ETC/kubeadm.yaml"
}

readyz() {
  curl -skf --max-time 5 "https://$1:$TRIPOD_API_PORT/readyz" >/dev/null
}

worker_join_doc() {
  local doc
  doc=$(ssm_get "$TRIPOD_WORKER_JOIN_PARAM") && jq -e '.token and .caCertHash' >/dev/null <<<"$doc" && echo "$doc"
}

# The sha256 of a CA's public key, as kubeadm's --discovery-token-ca-cert-hash wants it.
ca_cert_hash() {
  echo "sha256:$(openssl x509 -pubkey -noout -in "$1" | openssl pkey -pubin -outform der 2>/dev/null |
    openssl dgst -sha256 -hex | sed 's/^.* //')"
}

# complete_lifecycle_action HOOK RESULT: finish this instance's lifecycle action (fails when AWS refuses).
complete_lifecycle_action() {
  aws autoscaling complete-lifecycle-action --region "$TRIPOD_REGION" --auto-scaling-group-name "$TRIPOD_GROUP" \\
    --lifecycle-hook-name "$1" --instance-id "$INSTANCE_ID" --lifecycle-action-result "$2"
}

# complete_lifecycle HOOK RESULT: the same, ignored when none waits.
complete_lifecycle() {
  complete_lifecycle_action "$@" || log "no $1 lifecycle action to complete"
}

# The target lifecycle state Auto Scaling gives this instance (InService, Terminated, ...).
lifecycle_state() {
  imds autoscaling/target-lifecycle-state
}

# watch_lifecycle: runs \`leave\` once the instance is set to terminate (Terminating:Wait).
watch_lifecycle() {
  local state
  while :; do
    state=$(lifecycle_state || true)
    if [ "$state" = Terminated ]; then
      log "lifecycle: this instance is terminating"
      leave
      return 0
    fi
    "$TRIPOD_SLEEP" "\${TRIPOD_LIFECYCLE_POLL:-5}"
  done
}

install_lifecycle_watcher() {
  mkdir -p "$TRIPOD_SYSTEMD"
  printf '%s\\n' '[Unit]' 'Description=tripod: leave the cluster cleanly when Auto Scaling terminates this instance' \\
    'After=network-online.target' '[Service]' "ExecStart=$TRIPOD_BIN watch-lifecycle" 'Restart=on-failure' 'RestartSec=10' \\
    '[Install]' 'WantedBy=multi-user.target' >"$TRIPOD_SYSTEMD/tripod-lifecycle.service"
  systemctl daemon-reload
  systemctl enable --now tripod-lifecycle.service
}

# common_setup ROLE: what every node runs before it joins.
common_setup() {
  setup_kernel
  install_packages "$1"
  write_restart_dropins containerd kubelet
  systemctl enable --now containerd kubelet
}
`,
  'master.sh': `#!/usr/bin/env bash
# tripod master functions (sourced after lib.sh). The join handshake is src/contract/protocol.ts:
# wait for join parameters -> etcd member (etcd-member.sh) + "Member Started" nudge -> control plane
# -> /readyz -> ready event.

: "\${TRIPOD_SCRIPTS:=/opt/tripod}"
: "\${TRIPOD_ETCD_DATA:=$TRIPOD_ROOT/var/lib/etcd/tripod}"
# etcd's official releases; install_etcd puts etcd, etcdctl and etcdutl in /usr/local/bin
: "\${TRIPOD_ETCD_RELEASE_URL:=https://github.com/etcd-io/etcd/releases/download}"
: "\${TRIPOD_ETCD_BIN:=/usr/local/bin/etcd}"
: "\${TRIPOD_ETCDUTL:=/usr/local/bin/etcdutl}"

# wait_for_join_params: polls /tripod/<cluster>/join/<instance-id> with backoff (bounded by
# TRIPOD_JOIN_TIMEOUT) and sets JOIN_NAME, JOIN_INITIAL_CLUSTER and JOIN_STATE.
wait_for_join_params() {
  local doc
  log "waiting for join parameters at $TRIPOD_JOIN_PREFIX$INSTANCE_ID"
  doc=$(retry_backoff "$TRIPOD_JOIN_TIMEOUT" ssm_get "$TRIPOD_JOIN_PREFIX$INSTANCE_ID") ||
    die "no join parameters after \${TRIPOD_JOIN_TIMEOUT}s: the reconciler will abandon this instance"
  JOIN_NAME=$(jq -er .name <<<"$doc") || die "join parameters without a name: $doc"
  JOIN_INITIAL_CLUSTER=$(jq -er .initialCluster <<<"$doc") || die "join parameters without initialCluster"
  JOIN_STATE=$(jq -er .initialClusterState <<<"$doc") || die "join parameters without initialClusterState"
  case "$JOIN_STATE" in new | existing) ;; *) die "bad initialClusterState '$JOIN_STATE'" ;; esac
  mkdir -p "$TRIPOD_STATE"
  printf '%s\\n' "$doc" >"$TRIPOD_STATE/join.json"
  log "join parameters: member $JOIN_NAME, cluster state $JOIN_STATE, initial cluster $JOIN_INITIAL_CLUSTER"
}

# --- cluster CAs: SecureStrings created once by the seed -------------------------------------------
# ca_files NAME -> "certificate-or-public-key private-key" under the kubeadm PKI directory.
ca_files() {
  case "$1" in
    etcd-ca) echo "$TRIPOD_PKI/etcd/ca.crt $TRIPOD_PKI/etcd/ca.key" ;;
    kubernetes-ca) echo "$TRIPOD_PKI/ca.crt $TRIPOD_PKI/ca.key" ;;
    front-proxy-ca) echo "$TRIPOD_PKI/front-proxy-ca.crt $TRIPOD_PKI/front-proxy-ca.key" ;;
    service-account) echo "$TRIPOD_PKI/sa.pub $TRIPOD_PKI/sa.key" ;;
    *) die "unknown CA $1" ;;
  esac
}
CA_NAMES=(etcd-ca kubernetes-ca front-proxy-ca service-account)

generate_ca() {
  local pub key
  read -r pub key <<<"$(ca_files "$1")"
  mkdir -p "$(dirname "$key")"
  (
    umask 077
    if [ "$1" = service-account ]; then
      openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
      openssl pkey -in "$key" -pubout -out "$pub"
    else
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$key" -out "$pub" -days 3650 -sha256 \\
        -subj "/CN=$1" -addext 'basicConstraints=critical,CA:TRUE' \\
        -addext 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign' 2>/dev/null
    fi
  )
}

# write_ca NAME PEM: splits "certificate + private key" PEM text into the CA's two files.
write_ca() {
  local pub key
  read -r pub key <<<"$(ca_files "$1")"
  private_file "$key"
  (umask 077 && awk -v pub="$pub" -v key="$key" '
    /-----BEGIN .*PRIVATE KEY-----/ { out = key }
    /-----BEGIN / && !/PRIVATE KEY/ { out = pub }
    out != "" { print > out }
    /-----END / { out = "" }' <<<"$2")
  chmod 644 "$pub"
  if [ ! -s "$pub" ] || [ ! -s "$key" ]; then die "CA $1 from SSM is not a certificate and a key"; fi
}

ca_pem() {
  local pub key
  read -r pub key <<<"$(ca_files "$1")"
  cat "$pub" "$key"
}

# ensure_cluster_cas (the seed): every CA that SSM lacks is created here and stored without
# overwrite; if another writer won the race, its CA is the one used.
ensure_cluster_cas() {
  local name pem
  for name in "\${CA_NAMES[@]}"; do
    if pem=$(ssm_get "$TRIPOD_PKI_PREFIX$name"); then
      write_ca "$name" "$pem"
      continue
    fi
    generate_ca "$name"
    if ca_pem "$name" | ssm_put_secret "$TRIPOD_PKI_PREFIX$name"; then
      log "created CA $name and stored it in $TRIPOD_PKI_PREFIX$name"
    else
      pem=$(ssm_get "$TRIPOD_PKI_PREFIX$name") || die "could neither store nor read $TRIPOD_PKI_PREFIX$name"
      write_ca "$name" "$pem"
    fi
  done
}

# fetch_cluster_cas (a joining master): the CAs the seed stored.
fetch_cluster_cas() {
  local name pem
  for name in "\${CA_NAMES[@]}"; do
    pem=$(retry_backoff 300 ssm_get "$TRIPOD_PKI_PREFIX$name") || die "CA $TRIPOD_PKI_PREFIX$name is not in SSM"
    write_ca "$name" "$pem"
  done
}

# --- Kubernetes Secrets encrypted at rest ---------------------------------------------------------
# The API server encrypts Secrets (secretbox) with a 32-byte key the seed makes once and stores like
# the CAs; every master writes the same EncryptionConfiguration (0600), which the kubeadm configuration
# passes to the API server (encryption-provider-config) and mounts into its pod.
ENCRYPTION_DIR=/etc/kubernetes/encryption

# ensure_encryption_config new|existing: the seed (new) makes and stores the key unless SSM has one.
ensure_encryption_config() {
  local name="\${TRIPOD_PKI_PREFIX}encryption-key" key='' file="$TRIPOD_ROOT$ENCRYPTION_DIR/config.yaml"
  if [ "$1" = new ] && ! key=$(ssm_get "$name"); then
    key=$(head -c 32 /dev/urandom | base64 -w0)
    printf '%s' "$key" | ssm_put_secret "$name" || key=$(ssm_get "$name") || die "could neither store nor read $name"
  fi
  [ -n "$key" ] || key=$(retry_backoff 300 ssm_get "$name") || die "$name is not in SSM"
  case "$key" in '' | *[!A-Za-z0-9+/=]*) die "$name is not a base64 key" ;; esac
  private_file "$file"
  chmod 700 "$(dirname "$file")"
  printf '%s\\n' 'apiVersion: apiserver.config.k8s.io/v1' 'kind: EncryptionConfiguration' 'resources:' \\
    '- resources: [secrets]' '  providers:' '  - secretbox:' '      keys:' "      - {name: key1, secret: \\"$key\\"}" \\
    '  - identity: {}' >"$file"
}

# issue_client_cert CA_DIR OUT_BASE CN [O]: an EC client certificate signed by CA_DIR/ca.{crt,key}.
issue_client_cert() {
  local ca=$1 out=$2 subj="/CN=$3" ext
  [ -n "\${4:-}" ] && subj="/O=$4$subj"
  [ -s "$out.crt" ] && [ -s "$out.key" ] && return 0
  ext=$(mktemp)
  printf '%s\\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \\
    'extendedKeyUsage=clientAuth' >"$ext"
  (
    umask 077
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$out.key" \\
      -subj "$subj" -out "$out.csr" 2>/dev/null
  )
  openssl x509 -req -in "$out.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -set_serial "0x$(openssl rand -hex 16)" \\
    -days 3650 -sha256 -extfile "$ext" -out "$out.crt" 2>/dev/null || die "could not issue $out.crt"
  rm -f "$ext" "$out.csr"
}

# publish_reconciler_cert (the seed): the reconciler's etcd client certificate, for the Lambda.
publish_reconciler_cert() {
  local base="$TRIPOD_STATE/reconciler-client"
  mkdir -p "$TRIPOD_STATE"
  issue_client_cert "$TRIPOD_PKI/etcd" "$base" tripod-reconciler
  if jq -cn --rawfile ca "$TRIPOD_PKI/etcd/ca.crt" --rawfile cert "$base.crt" --rawfile key "$base.key" \\
    '{ca: $ca, cert: $cert, key: $key}' | ssm_put_secret "$TRIPOD_RECONCILER_CERT_PARAM"; then
    log "published the reconciler's etcd client certificate at $TRIPOD_RECONCILER_CERT_PARAM"
  else
    log "the reconciler's etcd client certificate is already published"
  fi
  rm -f "$base.key"
}

# --- restore (disaster recovery) ----------------------------------------------------------------------
# restore_seed_data: while /tripod/<cluster>/restore exists (written by \`tripod restore\`,
# src/heal/restore.ts), the seed (join state new) starts etcd from that snapshot instead of empty:
# download it, check its SHA-256 against the record (a mismatch stops the boot, nothing changed),
# move old data aside (never delete it; moved back when the restore fails), \`etcdutl snapshot restore\`
# (which also checks etcd's own hash trailer) as a one-member cluster with a fresh token. Sets RESTORE_TOKEN.
restore_seed_data() {
  local doc bucket key sha file got aside='' peer
  [ "$JOIN_STATE" = new ] || return 0
  doc=$(ssm_get "/tripod/$TRIPOD_CLUSTER/restore") || return 0
  if [ -z "$doc" ] || [ "$doc" = None ]; then return 0; fi
  if ! bucket=$(jq -er .bucket <<<"$doc") || ! key=$(jq -er .key <<<"$doc") || ! sha=$(jq -er .sha256 <<<"$doc"); then
    die "restore record without bucket, key and sha256: $doc"
  fi
  mkdir -p "$TRIPOD_STATE"
  file="$TRIPOD_STATE/restore.db"
  log "restore: downloading s3://$bucket/$key"
  # the snapshot holds every Secret: never world-readable, and gone whatever the outcome
  if ! (umask 077 && retry_backoff 600 aws s3api get-object --region "$TRIPOD_REGION" --bucket "$bucket" --key "$key" "$file" >/dev/null); then
    rm -f "$file"
    die "cannot download s3://$bucket/$key"
  fi
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    rm -f "$file"
    die "snapshot s3://$bucket/$key is corrupt or truncated: SHA-256 $got, expected $sha. Nothing was restored."
  fi
  if [ -d "$TRIPOD_ETCD_DATA" ] && [ -n "$(ls -A "$TRIPOD_ETCD_DATA")" ]; then
    aside="$TRIPOD_ETCD_DATA.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
    mv "$TRIPOD_ETCD_DATA" "$aside" || { rm -f "$file" && die "cannot move $TRIPOD_ETCD_DATA aside: nothing restored"; }
    log "restore: moved the old data directory to $aside"
  fi
  RESTORE_TOKEN="tripod-restore-$(date +%s)"
  peer="https://$NODE_IP:$TRIPOD_ETCD_PEER_PORT"
  # A failure from here on puts the old data back before dying: whatever restarts etcd next (the
  # watchdog) must find it, never an empty or partial directory (on the seed, a new empty cluster).
  if ! mkdir -p "$(dirname "$TRIPOD_ETCD_DATA")" || ! "$TRIPOD_ETCDUTL" snapshot restore "$file" --name="$JOIN_NAME" \\
    --initial-cluster="$JOIN_NAME=$peer" --initial-advertise-peer-urls="$peer" --initial-cluster-token="$RESTORE_TOKEN" \\
    --data-dir="$TRIPOD_ETCD_DATA"; then
    rm -f "$file"
    rm -rf "$TRIPOD_ETCD_DATA"
    [ -z "$aside" ] || mv "$aside" "$TRIPOD_ETCD_DATA" ||
      die "etcdutl snapshot restore of s3://$bucket/$key failed, and the old data could not be moved back from $aside"
    die "etcdutl snapshot restore of s3://$bucket/$key failed\${aside:+; the old data directory is back}"
  fi
  rm -f "$file"
  jq -r '.requestedAt // ""' <<<"$doc" >"$TRIPOD_STATE/restored"
  log "restore: etcd data restored from s3://$bucket/$key (sha256 $sha); starting a new one-member cluster"
}

# restore_watch (a timer on every master): a running master chosen as the seed of a restore gets
# its join re-published with state new and \`restore\` = the record's requestedAt (the reconciler
# does so once the group shrank to it and quorum is lost, src/heal/phases/restore.ts). Once per
# restore: stop the watchdog and etcd, restore the snapshot (restore_seed_data), start etcd as a
# new one-member cluster, nudge the reconciler. A join without \`restore\` is left alone.
restore_watch() {
  local doc want
  doc=$(ssm_get "$TRIPOD_JOIN_PREFIX$INSTANCE_ID") || return 0
  want=$(jq -r '.restore // empty' <<<"$doc") || return 0
  [ -n "$want" ] || return 0
  [ "$(cat "$TRIPOD_STATE/restored" 2>/dev/null)" != "$want" ] || return 0
  [ "$(ssm_get "/tripod/$TRIPOD_CLUSTER/restore" | jq -r '.requestedAt // empty')" = "$want" ] ||
    die "join asks for restore $want, but the restore record is another one (or gone): nothing restored"
  JOIN_NAME=$(jq -er .name <<<"$doc") || die "join parameters without a name: $doc"
  JOIN_INITIAL_CLUSTER=$(jq -er .initialCluster <<<"$doc") || die "join parameters without initialCluster"
  JOIN_STATE=$(jq -er .initialClusterState <<<"$doc") || die "join parameters without initialClusterState"
  [ "$JOIN_STATE" = new ] || die "a restore join must have state new, got '$JOIN_STATE'"
  log "restore: this master is the seed of restore $want: stopping etcd"
  # A timer only orders its service: a watchdog check already running would still restart etcd. The
  # service's stop ends that check (and waits for it); the timer is the only one started again.
  systemctl stop tripod-watchdog.timer tripod-watchdog.service || true
  # A restore that fails (die) must not leave the watchdog off: it brings etcd back on the old data
  # (put back by restore_seed_data), and the next tick tries the restore again.
  trap 'systemctl start tripod-watchdog.timer || true' EXIT
  systemctl stop etcd.service || true
  mkdir -p "$TRIPOD_STATE"
  printf '%s\\n' "$doc" >"$TRIPOD_STATE/join.json"
  run_etcd_phase
  trap - EXIT
  systemctl start tripod-watchdog.timer || true
  start_member_started_nudge
}

# --- etcd: the official release ---------------------------------------------------------------------
# install_etcd (from install_packages): etcd, etcdctl and etcdutl of release TRIPOD_ETCD_VERSION into
# /usr/local/bin. The tarball is checked against its pinned SHA-256 (TRIPOD_ETCD_SHA_<ARCH>, from
# src/cluster-spec/versions.ts) before it is unpacked: a mismatch stops the boot. Kept when already there.
install_etcd() {
  local v=$TRIPOD_ETCD_VERSION arch sha f w="$TRIPOD_STATE/etcd-download" bin="$TRIPOD_ROOT/usr/local/bin"
  case "$(uname -m)" in
    x86_64) arch=amd64 sha=$TRIPOD_ETCD_SHA_AMD64 ;;
    aarch64) arch=arm64 sha=$TRIPOD_ETCD_SHA_ARM64 ;;
    *) die "no etcd release for $(uname -m)" ;;
  esac
  if "$bin/etcd" --version 2>/dev/null | grep -qx "etcd Version: $v"; then return 0; fi
  f="etcd-v$v-linux-$arch.tar.gz"
  mkdir -p "$w" "$bin"
  retry_backoff 300 curl -fsSL -o "$w/$f" "$TRIPOD_ETCD_RELEASE_URL/v$v/$f" || die "cannot download $TRIPOD_ETCD_RELEASE_URL/v$v/$f"
  (cd "$w" && echo "$sha  $f" | sha256sum -c --quiet -) || die "$f does not match its pinned SHA-256 $sha: etcd NOT installed"
  tar -xzf "$w/$f" -C "$w" --strip-components=1 || die "cannot unpack $f"
  install -m 755 "$w/etcd" "$w/etcdctl" "$w/etcdutl" "$bin/"
  rm -rf "$w"
  log "installed etcd $v ($arch)"
}

# --- the etcd phase -------------------------------------------------------------------------------
run_etcd_phase() {
  log "etcd phase: member $JOIN_NAME ($JOIN_STATE)"
  restore_seed_data
  ETCD_INITIAL_CLUSTER_TOKEN="\${RESTORE_TOKEN:-tripod-etcd}" \\
    ETCD_NAME="$JOIN_NAME" ETCD_IP="$NODE_IP" ETCD_CLIENT_PORT="$TRIPOD_ETCD_CLIENT_PORT" \\
    ETCD_PEER_PORT="$TRIPOD_ETCD_PEER_PORT" ETCD_DATA_DIR="$TRIPOD_ETCD_DATA" ETCD_PKI_DIR="$TRIPOD_PKI/etcd" \\
    ETCD_INITIAL_CLUSTER="$JOIN_INITIAL_CLUSTER" ETCD_INITIAL_CLUSTER_STATE="$JOIN_STATE" \\
    ETCD_BIN="$TRIPOD_ETCD_BIN" ETCD_UNIT_DIR="$TRIPOD_SYSTEMD" \\
    bash "$TRIPOD_SCRIPTS/etcd-member.sh"
  issue_client_cert "$TRIPOD_PKI/etcd" "$TRIPOD_PKI/apiserver-etcd-client" kube-apiserver-etcd-client
}

# peer_ips: the addresses of the other members in the join parameters' initial cluster.
peer_ips() {
  tr ',' '\\n' <<<"$JOIN_INITIAL_CLUSTER" | grep -v "^$JOIN_NAME=" | sed -E 's#^[^=]*=[a-z]+://##; s#:[0-9]+$##'
}

# --- the control plane ------------------------------------------------------------------------------
# api_lb_dns_name: the API load balancer's own DNS name, from the cluster configuration the
# provisioner writes once the load balancer exists (or asked of ELB when an older one lacks it).
api_lb_dns_name() {
  local name
  if name=$(ssm_get "$TRIPOD_CONFIG_PARAM" | jq -er '.apiLoadBalancerDnsName // empty'); then
    echo "$name"
  else
    TRIPOD_API_DNS='' api_endpoint_name
  fi
}

# cert_sans NAME...: the API server certificate's extra names as a YAML flow list, without repeats.
cert_sans() {
  printf '%s\\n' "$@" | awk 'NF && !seen[$0]++' | jq -Rnc '[inputs]'
}

# write_init_config ENDPOINT LB_DNS_NAME: the seed's kubeadm configuration, external etcd = the
# local member. Joining masters take the ClusterConfiguration (networking, certificate names) from
# the cluster. The certificate names both the API endpoint (apiEndpoint.dnsName, when set) and the
# load balancer's own DNS name, so either reaches the API with TLS verification.
write_init_config() {
  local api
  api="kubeadm.k8s.io/$(kubeadm_api)"
  private_file "$TRIPOD_ETC/kubeadm.yaml"
  {
    printf 'apiVersion: %s\\nkind: InitConfiguration\\n' "$api"
    printf 'localAPIEndpoint:\\n  advertiseAddress: %s\\n  bindPort: %s\\n' "$NODE_IP" "$TRIPOD_API_PORT"
    node_registration master
    printf -- '---\\napiVersion: %s\\nkind: ClusterConfiguration\\n' "$api"
    printf 'clusterName: %s\\nkubernetesVersion: v%s\\ncontrolPlaneEndpoint: "%s:%s"\\n' \\
      "$TRIPOD_CLUSTER" "$TRIPOD_K8S_VERSION" "$1" "$TRIPOD_API_PORT"
    printf 'networking:\\n  podSubnet: "%s"\\n  serviceSubnet: "%s"\\n' "$TRIPOD_POD_SUBNET" "$TRIPOD_SERVICE_SUBNET"
    printf 'etcd:\\n  external:\\n    endpoints: ["https://%s:%s"]\\n' "$NODE_IP" "$TRIPOD_ETCD_CLIENT_PORT"
    printf '    caFile: /etc/kubernetes/pki/etcd/ca.crt\\n'
    printf '    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt\\n'
    printf '    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key\\n'
    printf 'apiServer:\\n  certSANs: %s\\n  extraArgs:\\n' "$(cert_sans "$1" "$2" "$NODE_IP" 127.0.0.1 localhost)"
    extra_args '    ' "encryption-provider-config=$ENCRYPTION_DIR/config.yaml"
    printf '  extraVolumes:\\n  - {name: encryption, hostPath: %s, mountPath: %s, readOnly: true, pathType: Directory}\\n' \\
      "$ENCRYPTION_DIR" "$ENCRYPTION_DIR"
    printf 'controllerManager:\\n  extraArgs:\\n'
    extra_args '    ' leader-elect=true
    printf 'scheduler:\\n  extraArgs:\\n'
    extra_args '    ' leader-elect=true
  } >"$TRIPOD_ETC/kubeadm.yaml"
}

# A running API server of another master, reached on its own address (not the load balancer).
discovery_master() {
  local ip
  for ip in $(peer_ips); do
    if readyz "$ip"; then
      echo "$ip"
      return 0
    fi
  done
  return 1
}

seed_control_plane() {
  local endpoint=$1 lb
  lb=$(retry_backoff 300 api_lb_dns_name) || die "cannot find the API load balancer's DNS name"
  pin_api_endpoint "$endpoint" "$NODE_IP"
  write_init_config "$endpoint" "$lb"
  log "kubeadm init (external etcd: the local member)"
  kubeadm init --config "$TRIPOD_ETC/kubeadm.yaml" --skip-token-print
}

join_control_plane() {
  local endpoint=$1 other doc
  other=$(retry_backoff 600 discovery_master) || die "no other master's API server answers"
  doc=$(retry_backoff 600 worker_join_doc) || die "no bootstrap token at $TRIPOD_WORKER_JOIN_PARAM"
  # Until this node's own API server runs, its kubelet reaches the API through another master.
  pin_api_endpoint "$endpoint" "$other"
  write_join_config master "$other:$TRIPOD_API_PORT" "$(jq -r .token <<<"$doc")" "$(ca_cert_hash "$TRIPOD_PKI/ca.crt")"
  log "kubeadm join --control-plane through $other (CAs from SSM, no certificate key)"
  kubeadm join --config "$TRIPOD_ETC/kubeadm.yaml"
  use_local_etcd
}

# kubeadm takes the API server's etcd endpoints from the cluster configuration, which names the
# seed's member: every master's API server talks to its own member instead.
use_local_etcd() {
  local manifest="$TRIPOD_KUBE_ETC/manifests/kube-apiserver.yaml"
  [ -f "$manifest" ] || die "kubeadm wrote no $manifest"
  sed -i -E "s#--etcd-servers=[^[:space:]\\"]*#--etcd-servers=https://$NODE_IP:$TRIPOD_ETCD_CLIENT_PORT#" "$manifest"
}

# send_node_event DETAIL_TYPE DETAIL_JSON: one tripod.node event on the default bus.
send_node_event() {
  local entries
  entries=$(jq -cn --arg s "$TRIPOD_EVENT_SOURCE" --arg t "$1" --arg d "$2" '[{Source: $s, DetailType: $t, Detail: $d}]')
  aws events put-events --region "$TRIPOD_REGION" --entries "$entries" >/dev/null
  log "sent $TRIPOD_EVENT_SOURCE \\"$1\\" for $INSTANCE_ID"
}

# send_ready_event ROLE: the tripod.node "Node Ready" event (the reconciler registers the node).
send_ready_event() {
  send_node_event "$TRIPOD_EVENT_DETAIL_TYPE" "$(jq -cn --arg c "$TRIPOD_CLUSTER" --arg i "$INSTANCE_ID" \\
    --arg ip "$NODE_IP" --arg z "$ZONE" --arg r "$1" '{cluster: $c, instanceId: $i, ip: $ip, zone: $z, role: $r}')"
}

# member_status IP: the /v3/maintenance/status of the member at IP (learners answer it too).
member_status() {
  curl -sf --max-time 5 --cacert "$TRIPOD_PKI/etcd/ca.crt" --cert "$TRIPOD_PKI/apiserver-etcd-client.crt" \\
    --key "$TRIPOD_PKI/apiserver-etcd-client.key" -X POST -d '{}' "https://$1:$TRIPOD_ETCD_CLIENT_PORT/v3/maintenance/status"
}
local_member_status() { member_status "$NODE_IP"; }

# learner_in_sync STATUS: etcd's own promotion test (isLearnerReady; src/heal/quorum.ts): the local
# raft index (STATUS) is at least TRIPOD_LEARNER_READY_PERCENT % of the leader's, the leader found
# among the join parameters' initial cluster by its status's member id.
learner_in_sync() {
  local ip s leader mine share=$TRIPOD_LEARNER_READY_PERCENT j="$TRIPOD_STATE/join.json"
  leader=$(jq -r '.leader' <<<"$1") mine=$(jq -r '.raftIndex // 0' <<<"$1")
  JOIN_NAME=$(jq -r .name "$j") && JOIN_INITIAL_CLUSTER=$(jq -r .initialCluster "$j") || return 1
  for ip in $(peer_ips); do
    s=$(member_status "$ip") || continue
    [ "$(jq -r .header.member_id <<<"$s")" = "$leader" ] || continue
    [ $((mine * 100)) -ge $(($(jq -r '.raftIndex // 0' <<<"$s") * share)) ]
    return
  done
  return 1
}

# member_started_loop: the "Member Started" nudge (src/contract/protocol.ts). Once the local member
# serves (it knows a leader) and, a learner, is in sync (learner_in_sync: the promotion will pass) it
# tells the reconciler, and repeats every TRIPOD_MEMBER_STARTED_EVERY s while the member is a learner,
# at most TRIPOD_MEMBER_STARTED_MAX times. Polls every second, at most 10 min, until then.
member_started_loop() {
  local sent=0 polls=0 status learner detail
  while [ "$sent" -lt "$TRIPOD_MEMBER_STARTED_MAX" ] && [ "$polls" -lt "\${TRIPOD_MEMBER_STARTED_WAIT:-600}" ]; do
    if ! status=$(local_member_status) || [ "$(jq -r '.leader // "0"' <<<"$status")" = 0 ]; then
      polls=$((polls + 1))
      "$TRIPOD_SLEEP" 1
      continue
    fi
    learner=$(jq -r '.isLearner == true' <<<"$status")
    [ "$sent" = 0 ] || [ "$learner" = true ] || break
    if [ "$sent" = 0 ] && [ "$learner" = true ] && ! learner_in_sync "$status"; then
      polls=$((polls + 1))
      "$TRIPOD_SLEEP" 1
      continue
    fi
    detail=$(jq -cn --arg c "$TRIPOD_CLUSTER" --arg i "$INSTANCE_ID" --arg ip "$NODE_IP" --arg z "$ZONE" \\
      --arg m "$(jq -r '.header.member_id // ""' <<<"$status")" \\
      '{cluster: $c, instanceId: $i, ip: $ip, zone: $z} + (if $m == "" then {} else {memberId: $m} end)')
    send_node_event "$TRIPOD_MEMBER_STARTED_DETAIL_TYPE" "$detail" || log "put-events failed: the next nudge or the schedule covers it"
    sent=$((sent + 1))
    [ "$learner" = true ] || break
    "$TRIPOD_SLEEP" "$TRIPOD_MEMBER_STARTED_EVERY"
  done
  log "member-started: $sent event(s) sent, the member is $([ "\${learner:-}" = true ] && echo 'still a learner' || echo 'a voter')"
}

# start_member_started_nudge: runs member_started_loop beside the boot (a transient systemd unit).
start_member_started_nudge() {
  systemd-run --unit tripod-member-started --collect --description 'tripod: nudge the reconciler while a learner' \\
    "$TRIPOD_BIN" member-started || log "could not start the member-started nudge: the schedule promotes"
}

# --- worker join token, kept fresh by every master ------------------------------------------------
DRAINER_RBAC='apiVersion: v1
kind: ServiceAccount
metadata: {name: tripod-node-drainer, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: tripod-node-drainer}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list, patch, update]}
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
- {apiGroups: [""], resources: [pods/eviction], verbs: [create]}
- {apiGroups: [apps], resources: [daemonsets, statefulsets, replicasets], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tripod-node-drainer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tripod-node-drainer}
subjects:
- {kind: ServiceAccount, name: tripod-node-drainer, namespace: kube-system}'

# rotate_worker_token: when the published token expires within TRIPOD_TOKEN_RENEW_SECONDS, creates
# a new bootstrap token (and a drain token for leaving workers) and publishes them.
rotate_worker_token() {
  local doc expires now kc="$TRIPOD_KUBE_ETC/admin.conf" token drain hash
  now=$(date -u +%s)
  if doc=$(worker_join_doc); then
    expires=$(jq -r '.expires // 0' <<<"$doc")
    if [ "$((expires - now))" -gt "$TRIPOD_TOKEN_RENEW_SECONDS" ]; then
      log "worker join token valid for $((expires - now))s more"
      return 0
    fi
  fi
  kubectl --kubeconfig "$kc" apply -f - <<<"$DRAINER_RBAC" >/dev/null
  token=$(kubeadm token create --kubeconfig "$kc" --ttl "\${TRIPOD_TOKEN_TTL_SECONDS}s" \\
    --description 'tripod worker join')
  drain=$(kubectl --kubeconfig "$kc" -n kube-system create token tripod-node-drainer \\
    --duration "\${TRIPOD_TOKEN_TTL_SECONDS}s")
  hash=$(ca_cert_hash "$TRIPOD_PKI/ca.crt")
  # the tokens reach jq on stdin, never as arguments
  printf '%s\\n' "$token" "$drain" | jq -cnR --arg h "$hash" --argjson e "$((now + TRIPOD_TOKEN_TTL_SECONDS))" \\
    '[inputs] as [$t, $d] | {token: $t, caCertHash: $h, drainToken: $d, expires: $e}' |
    ssm_put_secret "$TRIPOD_WORKER_JOIN_PARAM" --overwrite
  log "published a new worker join token (valid \${TRIPOD_TOKEN_TTL_SECONDS}s)"
}

# --- day one: cluster-admin group and pod network (the seed, once the API serves) -------------------
# admin_rbac: binds TRIPOD_ADMIN_GROUP (the O= of the client certificates \`tripod kubeconfig\` signs
# with the kubernetes-ca) to cluster-admin.
admin_rbac() {
  printf '%s\\n' 'apiVersion: rbac.authorization.k8s.io/v1' 'kind: ClusterRoleBinding' \\
    'metadata: {name: tripod-cluster-admins}' \\
    'roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}' \\
    'subjects:' "- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: \\"$TRIPOD_ADMIN_GROUP\\"}"
}

# cni_manifest OUT: the pinned pod network manifest (TRIPOD_CNI_MANIFEST_URL), checked against its
# SHA-256 before anything reads it, with network.pods where it names TRIPOD_CNI_DEFAULT_NETWORK.
cni_manifest() {
  local raw="$1.download" from="\\"Network\\": \\"\${TRIPOD_CNI_DEFAULT_NETWORK//./\\\\.}\\""
  retry_backoff 300 curl -fsSL -o "$raw" "$TRIPOD_CNI_MANIFEST_URL" || die "cannot download $TRIPOD_CNI_MANIFEST_URL"
  echo "$TRIPOD_CNI_MANIFEST_SHA256  $raw" | sha256sum -c --quiet - >/dev/null 2>&1 ||
    { rm -f "$raw" && die "$TRIPOD_CNI_MANIFEST_URL does not match its pinned SHA-256 $TRIPOD_CNI_MANIFEST_SHA256: NOT applied"; }
  [ "$(grep -c "$from" "$raw")" = 1 ] || die "the pod network manifest names its network $TRIPOD_CNI_DEFAULT_NETWORK not exactly once"
  sed "s#$from#\\"Network\\": \\"$TRIPOD_POD_SUBNET\\"#" "$raw" >"$1"
  rm -f "$raw"
}

# install_day_one (the seed, once the API serves): the cluster-admin binding, then the pod network
# of network.cni (none: nothing, users bring their own). Exactly once: a marker keeps a rerun of the
# boot from applying them again.
install_day_one() {
  local kc="$TRIPOD_KUBE_ETC/admin.conf" marker="$TRIPOD_STATE/day-one-applied" f="$TRIPOD_STATE/day-one"
  [ ! -f "$marker" ] || return 0
  mkdir -p "$f"
  admin_rbac >"$f/admin-rbac.yaml"
  retry_backoff 300 kubectl --kubeconfig "$kc" apply -f "$f/admin-rbac.yaml" >/dev/null ||
    die "cannot bind $TRIPOD_ADMIN_GROUP to cluster-admin"
  case "$TRIPOD_CNI" in
    none) log "network.cni is none: no pod network installed, nodes stay NotReady until you install one" ;;
    flannel)
      cni_manifest "$f/cni.yaml"
      retry_backoff 300 kubectl --kubeconfig "$kc" apply -f "$f/cni.yaml" >/dev/null || die "cannot apply the pod network"
      log "applied the pod network ($TRIPOD_CNI, pods $TRIPOD_POD_SUBNET)"
      ;;
    *) die "unknown network.cni '$TRIPOD_CNI'" ;;
  esac
  rm -rf "$f"
  : >"$marker"
}

# --- leaving ------------------------------------------------------------------------------------------
# etcd_member_list IP: the member list (JSON) as the member at IP sees it.
etcd_member_list() {
  local pki="$TRIPOD_PKI"
  curl -sf --max-time 5 --cacert "$pki/etcd/ca.crt" --cert "$pki/apiserver-etcd-client.crt" \\
    --key "$pki/apiserver-etcd-client.key" -X POST -d '{}' "https://$1:$TRIPOD_ETCD_CLIENT_PORT/v3/cluster/member/list"
}

# member_removed: true once a member that answers (this one first, then the others it last knew
# of) no longer lists this node's member.
member_removed() {
  local ip list peers="$TRIPOD_STATE/etcd-peers"
  for ip in "$NODE_IP" $(peer_ips) $(cat "$peers" 2>/dev/null); do
    list=$(etcd_member_list "$ip") || continue
    jq -r '.members[]?.clientURLs[]?' <<<"$list" | sed -E 's#^[a-z]+://##; s#:[0-9]+$##' | sort -u >"$peers"
    jq -e --arg n "$JOIN_NAME" 'any(.members[]?; .name == $n)' >/dev/null <<<"$list" && return 1
    return 0
  done
  return 1
}

# master_leave (Terminating:Wait): etcd stops only after the reconciler removed this member, so a
# terminating master never takes a voter away from the quorum behind the reconciler's back.
master_leave() {
  local doc
  doc=$(cat "$TRIPOD_STATE/join.json") || die "no join parameters recorded: this master never joined"
  JOIN_NAME=$(jq -r .name <<<"$doc")
  JOIN_INITIAL_CLUSTER=$(jq -r .initialCluster <<<"$doc")
  # the watchdog must not bring back what leaving stops
  systemctl disable --now tripod-watchdog.timer || true
  log "leaving: waiting until the reconciler removed etcd member $JOIN_NAME"
  if retry_backoff "$TRIPOD_LEAVE_TIMEOUT" member_removed; then
    log "member $JOIN_NAME is removed: stopping kubelet and etcd"
  else
    log "member $JOIN_NAME still listed after \${TRIPOD_LEAVE_TIMEOUT}s: stopping kubelet only, etcd stays up"
    systemctl stop kubelet
    return 1
  fi
  systemctl stop kubelet
  systemctl disable --now etcd.service
}

leave() { master_leave; }

# --- warm pool: prepare now, join when the group takes the instance --------------------------------
# The user data is a plain script: cloud-init runs it once per instance (scripts-user, per-instance),
# not again when a stopped pool instance is started. The prepare therefore installs tripod-join.service,
# which runs the boot again on the next start; the join disables it first, on both paths (later reboots
# run no boot).
JOIN_UNIT=tripod-join.service

# lifecycle_heartbeat HOOK PID (in the background): keeps this master's HOOK lifecycle action from timing
# out while PID lives (the warm pool's prepare; kill it when done). A heartbeat every
# TRIPOD_LIFECYCLE_HEARTBEAT_EVERY s: a third of the hooks' heartbeat timeout (render.ts; 10 without it,
# a third of the shortest timeout the spec allows, 30 s).
lifecycle_heartbeat() {
  local nap=''
  trap '[ -z "$nap" ] || kill "$nap" 2>/dev/null; exit 0' TERM
  while kill -0 "$2" 2>/dev/null; do
    aws autoscaling record-lifecycle-action-heartbeat --region "$TRIPOD_REGION" --auto-scaling-group-name "$TRIPOD_GROUP" \\
      --lifecycle-hook-name "$1" --instance-id "$INSTANCE_ID" >/dev/null || log "lifecycle heartbeat for $1 failed"
    sleep "\${TRIPOD_LIFECYCLE_HEARTBEAT_EVERY:-10}" &
    nap=$!
    wait "$nap" || true
  done
}

# master_prepare (target lifecycle state Warmed:*): packages, etcd and the control-plane images while
# the instance warms up, heartbeating its warm-up hook (the hook's timeout may be shorter than the
# install; its default result ABANDON would relaunch it in a loop); then the join unit and the prepared
# marker, and the node completes its own warm-up hook (only it knows it is prepared; the reconciler
# never joins a Warmed:* instance), or stops the boot when it cannot (its boot-failed record: the
# reconciler abandons it). Auto Scaling then stops it; a Running pool's instance waits here until the
# group takes it (InService).
master_prepare() {
  local beat
  lifecycle_heartbeat "$TRIPOD_LAUNCH_HOOK" "$BASHPID" &
  beat=$!
  common_setup master
  kubeadm config images pull --kubernetes-version "v$TRIPOD_K8S_VERSION"
  mkdir -p "$TRIPOD_SYSTEMD" "$TRIPOD_STATE"
  printf '%s\\n' '[Unit]' 'Description=tripod: join the cluster once the warm pool hands this master to its group' \\
    'Wants=network-online.target' 'After=network-online.target' '[Service]' 'Type=oneshot' \\
    "ExecStart=/bin/sh -c '$TRIPOD_BIN boot >>/var/log/tripod-bootstrap.log 2>&1'" \\
    '[Install]' 'WantedBy=multi-user.target' >"$TRIPOD_SYSTEMD/$JOIN_UNIT"
  systemctl daemon-reload
  systemctl enable "$JOIN_UNIT"
  : >"$TRIPOD_STATE/prepared"
  kill "$beat" 2>/dev/null || true
  wait "$beat" || true
  log "prepared for the warm pool: completing the warm-up hook"
  retry_backoff 120 complete_lifecycle_action "$TRIPOD_LAUNCH_HOOK" CONTINUE >/dev/null ||
    die "could not complete the warm-up hook $TRIPOD_LAUNCH_HOOK of $INSTANCE_ID"
  await_in_service
}

# await_in_service: a prepared pool instance waits until the group takes it out of the pool (target
# lifecycle state InService). Stopping the instance ends this wait: that is no boot failure (no
# record; the join unit goes on at the next start).
await_in_service() {
  trap - EXIT
  until [ "$(lifecycle_state || true)" = InService ]; do "$TRIPOD_SLEEP" "\${TRIPOD_LIFECYCLE_POLL:-5}"; done
  trap 'report_boot_failure $?' EXIT
  log "the group took this master out of the warm pool: joining"
}

# master_boot: the whole master bootstrap. A warm pool instance (target lifecycle state Warmed:*)
# prepares first; a prepared one (its second start) skips the packages.
master_boot() {
  local endpoint target
  node_identity
  # Every master is in its group: without its target state it could not tell a warm pool's prepare
  # from a join, and guessing the join would make a pool instance a member.
  target=$(retry_backoff 300 lifecycle_state) ||
    die "no target lifecycle state from IMDS (autoscaling/target-lifecycle-state) after 300s: cannot tell a warm pool's prepare from a join"
  if [ -f "$TRIPOD_STATE/prepared" ]; then
    log "prepared in the warm pool: joining without installing again"
    # Still in the pool (a Running pool instance rebooted): no join before the group takes it.
    if [[ "$target" == Warmed:* ]]; then await_in_service; fi
  elif [[ "$target" == Warmed:* ]]; then
    log "target lifecycle state $target: preparing for the warm pool"
    master_prepare
  else
    common_setup master
  fi
  # A warm pool master joins once, on either path (started again from a Stopped pool, or taken from a
  # Running one in this same run): a later reboot of the member must not run the boot again.
  if [ -f "$TRIPOD_STATE/prepared" ]; then systemctl disable "$JOIN_UNIT" || true; fi
  wait_for_join_params
  if [ "$JOIN_STATE" = new ]; then ensure_cluster_cas; else fetch_cluster_cas; fi
  ensure_encryption_config "$JOIN_STATE"
  run_etcd_phase
  start_member_started_nudge
  write_restart_dropins etcd
  endpoint=$(retry_backoff 300 api_endpoint_name) || die "cannot find the API endpoint name"
  if [ "$JOIN_STATE" = new ]; then seed_control_plane "$endpoint"; else join_control_plane "$endpoint"; fi
  retry_backoff 900 readyz "$NODE_IP" || die "the local API server never became ready"
  # From now on this master reaches the API on its own address, never through the load balancer.
  pin_api_endpoint "$endpoint" "$NODE_IP"
  if [ "$JOIN_STATE" = new ]; then
    publish_reconciler_cert
    rotate_worker_token
    install_day_one
  fi
  write_timer tripod-rotate-token 'tripod: keep the worker join token fresh' 1h "$TRIPOD_BIN" rotate-token
  write_timer tripod-restore-watch 'tripod: restore etcd when this master is the seed of a restore' 20s "$TRIPOD_BIN" restore-watch
  install_watchdog containerd kubelet etcd
  install_lifecycle_watcher
  send_ready_event master
}
`,
  'tripod-node.sh': `#!/usr/bin/env bash
# tripod-node: the entry point on a node (installed as /opt/tripod/tripod-node by the user data).
#   tripod-node boot              bootstrap this node (cloud-init runs it once)
#   tripod-node watchdog          restart dead services; report the instance Unhealthy if they stay dead
#   tripod-node rotate-token      (masters) keep the worker join token in SSM fresh
#   tripod-node member-started    (masters) nudge the reconciler while the etcd member is a learner
#   tripod-node restore-watch     (masters) restore etcd from a snapshot when chosen as a restore's seed
#   tripod-node watch-lifecycle   wait for Terminating:Wait, then leave cleanly
#   tripod-node leave             leave now (masters: after the etcd member is removed; workers: drain)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
# shellcheck source=/dev/null
. "\${TRIPOD_ENV_FILE:-/etc/tripod/node.env}"
: "\${TRIPOD_ROLE:?TRIPOD_ROLE is not set: is /etc/tripod/node.env there?}"
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=master.sh disable=SC1091
if [ "$TRIPOD_ROLE" = master ]; then . "$here/master.sh"; else . "$here/worker.sh"; fi

case "\${1:-}" in
  boot)
    # A master whose bootstrap stops says so (its boot-failed record); a worker just stops.
    if [ "$TRIPOD_ROLE" = master ]; then trap 'report_boot_failure $?' EXIT; fi
    "\${TRIPOD_ROLE}_boot"
    trap - EXIT
    ;;
  watchdog)
    node_identity
    watchdog_check
    ;;
  rotate-token) rotate_worker_token ;;
  member-started)
    node_identity
    member_started_loop
    ;;
  restore-watch)
    node_identity
    restore_watch
    ;;
  watch-lifecycle)
    node_identity
    watch_lifecycle
    ;;
  leave)
    node_identity
    leave
    ;;
  *)
    echo "usage: tripod-node boot|watchdog|rotate-token|member-started|restore-watch|watch-lifecycle|leave" >&2
    exit 2
    ;;
esac
`,
  'worker.sh': `#!/usr/bin/env bash
# tripod worker functions (sourced after lib.sh).

# worker_join: joins through the API DNS name (the load balancer) with the bootstrap token the
# masters keep fresh in SSM, and the Kubernetes CA's hash.
worker_join() {
  local endpoint doc
  endpoint=$(retry_backoff 300 api_endpoint_name) || die "cannot find the API endpoint name"
  doc=$(retry_backoff "$TRIPOD_JOIN_TIMEOUT" worker_join_doc) || die "no bootstrap token at $TRIPOD_WORKER_JOIN_PARAM"
  write_join_config worker "$endpoint:$TRIPOD_API_PORT" "$(jq -r .token <<<"$doc")" "$(jq -r .caCertHash <<<"$doc")"
  log "kubeadm join through $endpoint:$TRIPOD_API_PORT (zone $ZONE)"
  kubeadm join --config "$TRIPOD_ETC/kubeadm.yaml"
  mkdir -p "$TRIPOD_STATE"
  printf '%s\\n' "$endpoint" >"$TRIPOD_STATE/api-endpoint"
}

node_name() {
  hostname | tr '[:upper:]' '[:lower:]'
}

# worker_leave (Terminating:Wait): cordon and drain through the eviction API, which respects
# PodDisruptionBudgets, say so in SSM, then let Auto Scaling continue the termination. The reconciler
# heartbeats the hook meanwhile and continues it itself only once drained or after its deadline.
worker_leave() {
  local doc endpoint node kc="$TRIPOD_STATE/drain.kubeconfig" drained=0
  endpoint=$(cat "$TRIPOD_STATE/api-endpoint" 2>/dev/null || api_endpoint_name) || die "no API endpoint"
  doc=$(retry_backoff 120 worker_join_doc) || die "no drain token at $TRIPOD_WORKER_JOIN_PARAM"
  node=$(node_name)
  systemctl disable --now tripod-watchdog.timer || true
  # the drain token goes to kubectl in a 0600 kubeconfig, never on its command line
  private_file "$kc"
  printf '%s\\n' 'apiVersion: v1' 'kind: Config' 'clusters:' '- name: tripod' '  cluster:' \\
    "    server: https://$endpoint:$TRIPOD_API_PORT" "    certificate-authority: $TRIPOD_PKI/ca.crt" \\
    'users:' '- name: drainer' '  user:' "    token: $(jq -r .drainToken <<<"$doc")" 'contexts:' \\
    '- {name: drain, context: {cluster: tripod, user: drainer}}' 'current-context: drain' >"$kc"
  log "leaving: draining $node"
  kubectl --kubeconfig "$kc" drain "$node" --ignore-daemonsets --delete-emptydir-data \\
    --timeout "\${TRIPOD_DRAIN_TIMEOUT}s" && drained=1
  rm -f "$kc"
  if [ "$drained" = 1 ]; then
    log "drained $node"
    # Tells the reconciler the drain is over (it holds the hook until this or its drain deadline).
    aws ssm put-parameter --region "$TRIPOD_REGION" --name "/tripod/$TRIPOD_CLUSTER/workers/drained/$INSTANCE_ID" \\
      --type String --value "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --overwrite >/dev/null ||
      log "could not record the finished drain in SSM"
  else
    log "drain of $node did not finish within \${TRIPOD_DRAIN_TIMEOUT}s"
  fi
  complete_lifecycle "$TRIPOD_TERMINATE_HOOK" CONTINUE
}

leave() { worker_leave; }

worker_boot() {
  node_identity
  common_setup worker
  worker_join
  install_watchdog containerd kubelet
  install_lifecycle_watcher
  complete_lifecycle "$TRIPOD_LAUNCH_HOOK" CONTINUE
}
`,
};
