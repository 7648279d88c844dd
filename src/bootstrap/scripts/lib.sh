#!/usr/bin/env bash
# tripod node library: functions shared by masters and workers. Sourced, never run.
# Configuration comes from /etc/tripod/node.env (rendered by src/bootstrap/render.ts); every
# secret (CAs, tokens) comes from SSM SecureString at boot, never from user data. A secret never
# goes on a command line (every local process can read those): values reach aws through 0600 files
# (file://), jq through stdin, kubectl through a 0600 kubeconfig; files holding one are 0600.
# Paths are overridable so the bats tests can run every function in a temp dir.

: "${TRIPOD_ROOT:=}"                                # prefix for every file path (tests)
: "${TRIPOD_ETC:=$TRIPOD_ROOT/etc/tripod}"
: "${TRIPOD_STATE:=$TRIPOD_ROOT/var/lib/tripod}"
: "${TRIPOD_PKI:=$TRIPOD_ROOT/etc/kubernetes/pki}"
: "${TRIPOD_KUBE_ETC:=$TRIPOD_ROOT/etc/kubernetes}"
: "${TRIPOD_SYSTEMD:=$TRIPOD_ROOT/etc/systemd/system}"
: "${TRIPOD_HOSTS:=$TRIPOD_ROOT/etc/hosts}"
: "${TRIPOD_IMDS:=http://169.254.169.254}"
: "${TRIPOD_BIN:=/opt/tripod/tripod-node}"
: "${TRIPOD_SLEEP:=sleep}"                          # tests make waiting instant
: "${TRIPOD_AWS_CLI_URL:=https://awscli.amazonaws.com}" # the AWS CLI's official releases

log() { printf '[tripod %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
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
      log "gave up after ${waited}s: $*"
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
  INSTANCE_ID=${INSTANCE_ID:-$(retry_backoff 60 imds instance-id)} || die "no instance id from IMDS"
  NODE_IP=${NODE_IP:-$(retry_backoff 60 imds local-ipv4)} || die "no private IP from IMDS"
  ZONE=${ZONE:-$(retry_backoff 60 imds placement/availability-zone)} || die "no zone from IMDS"
  export INSTANCE_ID NODE_IP ZONE
  log "instance $INSTANCE_ID, address $NODE_IP, zone $ZONE"
}

# --- SSM parameters ---------------------------------------------------------------------------
ssm_get() {
  aws ssm get-parameter --region "$TRIPOD_REGION" --name "$1" --with-decryption \
    --query Parameter.Value --output text 2>/dev/null
}

# report_boot_failure STATUS (the boot's EXIT trap): a master whose bootstrap stopped writes why to its
# boot-failed record, so the reconciler abandons the launch (removing any member it had first) at once
# instead of holding the one learner slot for the whole boot timeout.
report_boot_failure() {
  local rc=$1 why
  [ "$rc" != 0 ] || return 0
  INSTANCE_ID=${INSTANCE_ID:-$(imds instance-id)} || return 0
  why="bootstrap stopped (status $rc)${LAST_ERROR:+: $LAST_ERROR}; log: /var/log/tripod-bootstrap.log"
  aws ssm put-parameter --region "$TRIPOD_REGION" --name "$TRIPOD_BOOT_FAILED_PREFIX$INSTANCE_ID" \
    --type String --overwrite --value "${why:0:1000}" >/dev/null ||
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
  aws ssm put-parameter --region "$TRIPOD_REGION" --name "$1" --type SecureString --key-id "$TRIPOD_KMS_KEY" \
    --tier Intelligent-Tiering --value "file://$f" ${2:+"$2"} >/dev/null || rc=$?
  rm -f "$f"
  return "$rc"
}

# --- every node: kernel, container runtime, Kubernetes packages -----------------------------------
setup_kernel() {
  mkdir -p "$TRIPOD_ROOT/etc/modules-load.d" "$TRIPOD_ROOT/etc/sysctl.d"
  printf '%s\n' overlay br_netfilter >"$TRIPOD_ROOT/etc/modules-load.d/tripod-k8s.conf"
  modprobe overlay
  modprobe br_netfilter
  printf '%s\n' 'net.bridge.bridge-nf-call-iptables = 1' 'net.bridge.bridge-nf-call-ip6tables = 1' \
    'net.ipv4.ip_forward = 1' >"$TRIPOD_ROOT/etc/sysctl.d/99-tripod-k8s.conf"
  sysctl --system >/dev/null
}

# Keeps packaged services from starting during apt-get install (the etcd package would start a
# default member); removed again at the end of install_packages.
hold_service_starts() {
  printf '#!/bin/sh\nexit 101\n' >"$TRIPOD_ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$TRIPOD_ROOT/usr/sbin/policy-rc.d"
}

# install_packages ROLE: containerd, the AWS CLI, etcd (masters: install_etcd in master.sh), and
# kubelet/kubeadm/kubectl pinned to TRIPOD_K8S_VERSION from the Kubernetes package repository of its
# minor version, whose signing key must have the pinned fingerprint. Versions: src/cluster-spec/versions.ts.
install_packages() {
  local role=$1 keyring="$TRIPOD_ROOT/etc/apt/keyrings/kubernetes.gpg" repo pin key
  local k8s_minor=${TRIPOD_K8S_VERSION%.*}
  repo="$TRIPOD_K8S_APT_REPO/core:/stable:/v${k8s_minor}/deb/"
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
  retry_backoff 300 curl -fsSL -o "$key" "${repo}Release.key" || die "cannot download ${repo}Release.key"
  [ "$(key_fingerprints "$key")" = "$TRIPOD_K8S_KEY_FINGERPRINT" ] ||
    die "${repo}Release.key is not the pinned key $TRIPOD_K8S_KEY_FINGERPRINT (has: $(key_fingerprints "$key" | tr '\n' ' '))"
  gpg --batch --yes --dearmor -o "$keyring" "$key"
  rm -f "$key"
  printf 'deb [signed-by=%s] %s /\n' "/etc/apt/keyrings/kubernetes.gpg" "$repo" \
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
  containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' \
    >"$TRIPOD_ROOT/etc/containerd/config.toml"
  systemctl restart containerd
}

# --- reliable services: Restart=always, and a watchdog that gives up on a broken node -------------
# write_restart_dropins UNIT...: a drop-in so a crashed service comes back by itself.
write_restart_dropins() {
  local unit
  for unit in "$@"; do
    mkdir -p "$TRIPOD_SYSTEMD/$unit.service.d"
    printf '%s\n' '# tripod: a crashed service comes back by itself' '[Unit]' 'StartLimitIntervalSec=0' \
      '[Service]' 'Restart=always' 'RestartSec=5' >"$TRIPOD_SYSTEMD/$unit.service.d/10-tripod-restart.conf"
  done
  systemctl daemon-reload
}

# write_timer NAME DESCRIPTION INTERVAL COMMAND...: a oneshot service run by a systemd timer.
write_timer() {
  local name=$1 desc=$2 every=$3
  shift 3
  mkdir -p "$TRIPOD_SYSTEMD"
  printf '%s\n' '[Unit]' "Description=$desc" '[Service]' 'Type=oneshot' "ExecStart=$*" \
    >"$TRIPOD_SYSTEMD/$name.service"
  printf '%s\n' '[Unit]' "Description=$desc (timer)" '[Timer]' "OnBootSec=$every" "OnUnitActiveSec=$every" \
    '[Install]' 'WantedBy=timers.target' >"$TRIPOD_SYSTEMD/$name.timer"
  systemctl daemon-reload
  systemctl enable --now "$name.timer"
}

# install_watchdog UNIT...: every 30 s checks the units; see watchdog_check.
install_watchdog() {
  mkdir -p "$TRIPOD_ETC"
  printf '%s\n' "$@" >"$TRIPOD_ETC/watched-units"
  write_timer tripod-watchdog 'tripod: restart the services that stopped' 30s \
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
  [ "$count" -ge "${TRIPOD_WATCHDOG_FAILURES:-6}" ] || return 0
  if [ "${TRIPOD_ROLE:-}" = master ]; then
    log "watchdog: services still down after $count checks: still restarting (the reconciler decides about a master)"
  else
    log "watchdog: services still down after $count checks: reporting $INSTANCE_ID Unhealthy"
    report_worker_unhealthy
  fi
}

# report_worker_unhealthy: its Auto Scaling group replaces this worker (never called on a master).
report_worker_unhealthy() {
  aws autoscaling set-instance-health --region "$TRIPOD_REGION" --instance-id "$INSTANCE_ID" \
    --health-status Unhealthy --no-should-respect-grace-period
}

# --- Kubernetes ---------------------------------------------------------------------------------
# The API endpoint name every node uses: the spec's DNS name, or the API load balancer's DNS name.
api_endpoint_name() {
  if [ -n "${TRIPOD_API_DNS:-}" ]; then
    echo "$TRIPOD_API_DNS"
    return 0
  fi
  local name
  name=$(aws elbv2 describe-load-balancers --region "$TRIPOD_REGION" --names "$TRIPOD_API_LB_NAME" \
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
  printf '%s %s # tripod-api\n' "$2" "$1" >>"$tmp"
  cat "$tmp" >"$TRIPOD_HOSTS"
  rm -f "$tmp"
}

# kubeadm's v1beta4 (Kubernetes 1.31+) writes extra arguments as a list, v1beta3 as a map.
kubeadm_api() {
  local minor=${TRIPOD_K8S_VERSION#1.}
  minor=${minor%%.*}
  if [ "$minor" -ge 31 ]; then echo v1beta4; else echo v1beta3; fi
}

# extra_args INDENT NAME=VALUE...
extra_args() {
  local indent=$1 kv
  shift
  for kv in "$@"; do
    if [ "$(kubeadm_api)" = v1beta4 ]; then
      printf '%s- name: %s\n%s  value: "%s"\n' "$indent" "${kv%%=*}" "$indent" "${kv#*=}"
    else
      printf '%s%s: "%s"\n' "$indent" "${kv%%=*}" "${kv#*=}"
    fi
  done
}

node_registration() {
  printf 'nodeRegistration:\n  kubeletExtraArgs:\n'
  extra_args '    ' "node-labels=topology.kubernetes.io/zone=$ZONE" "node-ip=$NODE_IP"
  [ "$1" = master ] && [ "${TRIPOD_SCHEDULABLE:-false}" = true ] && printf '  taints: []\n'
  return 0
}

# write_join_config ROLE DISCOVERY_ENDPOINT TOKEN CA_HASH: 0600, it holds the bootstrap token.
write_join_config() {
  private_file "$TRIPOD_ETC/kubeadm.yaml"
  {
    printf 'apiVersion: kubeadm.k8s.io/%s\nkind: JoinConfiguration\n' "$(kubeadm_api)"
    printf 'discovery:\n  bootstrapToken:\n    apiServerEndpoint: "%s"\n    token: "%s"\n' "$2" "$3"
    printf '    caCertHashes: ["%s"]\n' "$4"
    node_registration "$1"
    [ "$1" = master ] &&
      printf 'controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: %s\n    bindPort: %s\n' \
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
  aws autoscaling complete-lifecycle-action --region "$TRIPOD_REGION" --auto-scaling-group-name "$TRIPOD_GROUP" \
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

# watch_lifecycle: runs `leave` once the instance is set to terminate (Terminating:Wait).
watch_lifecycle() {
  local state
  while :; do
    state=$(lifecycle_state || true)
    if [ "$state" = Terminated ]; then
      log "lifecycle: this instance is terminating"
      leave
      return 0
    fi
    "$TRIPOD_SLEEP" "${TRIPOD_LIFECYCLE_POLL:-5}"
  done
}

install_lifecycle_watcher() {
  mkdir -p "$TRIPOD_SYSTEMD"
  printf '%s\n' '[Unit]' 'Description=tripod: leave the cluster cleanly when Auto Scaling terminates this instance' \
    'After=network-online.target' '[Service]' "ExecStart=$TRIPOD_BIN watch-lifecycle" 'Restart=on-failure' 'RestartSec=10' \
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
