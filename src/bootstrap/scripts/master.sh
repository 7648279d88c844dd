#!/usr/bin/env bash
# tripod master functions (sourced after lib.sh). The join handshake is src/contract/protocol.ts:
# wait for join parameters -> etcd member (etcd-member.sh) + "Member Started" nudge -> control plane
# -> /readyz -> ready event.

: "${TRIPOD_SCRIPTS:=/opt/tripod}"
: "${TRIPOD_ETCD_DATA:=$TRIPOD_ROOT/var/lib/etcd/tripod}"
# etcd's official releases; install_etcd puts etcd, etcdctl and etcdutl in /usr/local/bin
: "${TRIPOD_ETCD_RELEASE_URL:=https://github.com/etcd-io/etcd/releases/download}"
: "${TRIPOD_ETCD_BIN:=/usr/local/bin/etcd}"
: "${TRIPOD_ETCDUTL:=/usr/local/bin/etcdutl}"

# wait_for_join_params: polls /tripod/<cluster>/join/<instance-id> with backoff (bounded by
# TRIPOD_JOIN_TIMEOUT) and sets JOIN_NAME, JOIN_INITIAL_CLUSTER and JOIN_STATE.
wait_for_join_params() {
  local doc
  log "waiting for join parameters at $TRIPOD_JOIN_PREFIX$INSTANCE_ID"
  doc=$(retry_backoff "$TRIPOD_JOIN_TIMEOUT" ssm_get "$TRIPOD_JOIN_PREFIX$INSTANCE_ID") ||
    die "no join parameters after ${TRIPOD_JOIN_TIMEOUT}s: the reconciler will abandon this instance"
  JOIN_NAME=$(jq -er .name <<<"$doc") || die "join parameters without a name: $doc"
  JOIN_INITIAL_CLUSTER=$(jq -er .initialCluster <<<"$doc") || die "join parameters without initialCluster"
  JOIN_STATE=$(jq -er .initialClusterState <<<"$doc") || die "join parameters without initialClusterState"
  case "$JOIN_STATE" in new | existing) ;; *) die "bad initialClusterState '$JOIN_STATE'" ;; esac
  mkdir -p "$TRIPOD_STATE"
  printf '%s\n' "$doc" >"$TRIPOD_STATE/join.json"
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
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$key" -out "$pub" -days 3650 -sha256 \
        -subj "/CN=$1" -addext 'basicConstraints=critical,CA:TRUE' \
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
  for name in "${CA_NAMES[@]}"; do
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
  for name in "${CA_NAMES[@]}"; do
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
  local name="${TRIPOD_PKI_PREFIX}encryption-key" key='' file="$TRIPOD_ROOT$ENCRYPTION_DIR/config.yaml"
  if [ "$1" = new ] && ! key=$(ssm_get "$name"); then
    key=$(head -c 32 /dev/urandom | base64 -w0)
    printf '%s' "$key" | ssm_put_secret "$name" || key=$(ssm_get "$name") || die "could neither store nor read $name"
  fi
  [ -n "$key" ] || key=$(retry_backoff 300 ssm_get "$name") || die "$name is not in SSM"
  case "$key" in '' | *[!A-Za-z0-9+/=]*) die "$name is not a base64 key" ;; esac
  private_file "$file"
  chmod 700 "$(dirname "$file")"
  printf '%s\n' 'apiVersion: apiserver.config.k8s.io/v1' 'kind: EncryptionConfiguration' 'resources:' \
    '- resources: [secrets]' '  providers:' '  - secretbox:' '      keys:' "      - {name: key1, secret: \"$key\"}" \
    '  - identity: {}' >"$file"
}

# issue_client_cert CA_DIR OUT_BASE CN [O]: an EC client certificate signed by CA_DIR/ca.{crt,key}.
issue_client_cert() {
  local ca=$1 out=$2 subj="/CN=$3" ext
  [ -n "${4:-}" ] && subj="/O=$4$subj"
  [ -s "$out.crt" ] && [ -s "$out.key" ] && return 0
  ext=$(mktemp)
  printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
    'extendedKeyUsage=clientAuth' >"$ext"
  (
    umask 077
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$out.key" \
      -subj "$subj" -out "$out.csr" 2>/dev/null
  )
  openssl x509 -req -in "$out.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -sha256 -extfile "$ext" -out "$out.crt" 2>/dev/null || die "could not issue $out.crt"
  rm -f "$ext" "$out.csr"
}

# publish_reconciler_cert (the seed): the reconciler's etcd client certificate, for the Lambda.
publish_reconciler_cert() {
  local base="$TRIPOD_STATE/reconciler-client"
  mkdir -p "$TRIPOD_STATE"
  issue_client_cert "$TRIPOD_PKI/etcd" "$base" tripod-reconciler
  if jq -cn --rawfile ca "$TRIPOD_PKI/etcd/ca.crt" --rawfile cert "$base.crt" --rawfile key "$base.key" \
    '{ca: $ca, cert: $cert, key: $key}' | ssm_put_secret "$TRIPOD_RECONCILER_CERT_PARAM"; then
    log "published the reconciler's etcd client certificate at $TRIPOD_RECONCILER_CERT_PARAM"
  else
    log "the reconciler's etcd client certificate is already published"
  fi
  rm -f "$base.key"
}

# --- restore (disaster recovery) ----------------------------------------------------------------------
# restore_seed_data: while /tripod/<cluster>/restore exists (written by `tripod restore`,
# src/heal/restore.ts), the seed (join state new) starts etcd from that snapshot instead of empty:
# download it, check its SHA-256 against the record (a mismatch stops the boot, nothing changed),
# move old data aside (never delete it; moved back when the restore fails), `etcdutl snapshot restore`
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
  if ! mkdir -p "$(dirname "$TRIPOD_ETCD_DATA")" || ! "$TRIPOD_ETCDUTL" snapshot restore "$file" --name="$JOIN_NAME" \
    --initial-cluster="$JOIN_NAME=$peer" --initial-advertise-peer-urls="$peer" --initial-cluster-token="$RESTORE_TOKEN" \
    --data-dir="$TRIPOD_ETCD_DATA"; then
    rm -f "$file"
    rm -rf "$TRIPOD_ETCD_DATA"
    [ -z "$aside" ] || mv "$aside" "$TRIPOD_ETCD_DATA" ||
      die "etcdutl snapshot restore of s3://$bucket/$key failed, and the old data could not be moved back from $aside"
    die "etcdutl snapshot restore of s3://$bucket/$key failed${aside:+; the old data directory is back}"
  fi
  rm -f "$file"
  jq -r '.requestedAt // ""' <<<"$doc" >"$TRIPOD_STATE/restored"
  log "restore: etcd data restored from s3://$bucket/$key (sha256 $sha); starting a new one-member cluster"
}

# restore_watch (a timer on every master): a running master chosen as the seed of a restore gets
# its join re-published with state new and `restore` = the record's requestedAt (the reconciler
# does so once the group shrank to it and quorum is lost, src/heal/phases/restore.ts). Once per
# restore: stop the watchdog and etcd, restore the snapshot (restore_seed_data), start etcd as a
# new one-member cluster, nudge the reconciler. A join without `restore` is left alone.
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
  printf '%s\n' "$doc" >"$TRIPOD_STATE/join.json"
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
  ETCD_INITIAL_CLUSTER_TOKEN="${RESTORE_TOKEN:-tripod-etcd}" \
    ETCD_NAME="$JOIN_NAME" ETCD_IP="$NODE_IP" ETCD_CLIENT_PORT="$TRIPOD_ETCD_CLIENT_PORT" \
    ETCD_PEER_PORT="$TRIPOD_ETCD_PEER_PORT" ETCD_DATA_DIR="$TRIPOD_ETCD_DATA" ETCD_PKI_DIR="$TRIPOD_PKI/etcd" \
    ETCD_INITIAL_CLUSTER="$JOIN_INITIAL_CLUSTER" ETCD_INITIAL_CLUSTER_STATE="$JOIN_STATE" \
    ETCD_BIN="$TRIPOD_ETCD_BIN" ETCD_UNIT_DIR="$TRIPOD_SYSTEMD" \
    bash "$TRIPOD_SCRIPTS/etcd-member.sh"
  issue_client_cert "$TRIPOD_PKI/etcd" "$TRIPOD_PKI/apiserver-etcd-client" kube-apiserver-etcd-client
}

# peer_ips: the addresses of the other members in the join parameters' initial cluster.
peer_ips() {
  tr ',' '\n' <<<"$JOIN_INITIAL_CLUSTER" | grep -v "^$JOIN_NAME=" | sed -E 's#^[^=]*=[a-z]+://##; s#:[0-9]+$##'
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
  printf '%s\n' "$@" | awk 'NF && !seen[$0]++' | jq -Rnc '[inputs]'
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
    printf 'apiVersion: %s\nkind: InitConfiguration\n' "$api"
    printf 'localAPIEndpoint:\n  advertiseAddress: %s\n  bindPort: %s\n' "$NODE_IP" "$TRIPOD_API_PORT"
    node_registration master
    printf -- '---\napiVersion: %s\nkind: ClusterConfiguration\n' "$api"
    printf 'clusterName: %s\nkubernetesVersion: v%s\ncontrolPlaneEndpoint: "%s:%s"\n' \
      "$TRIPOD_CLUSTER" "$TRIPOD_K8S_VERSION" "$1" "$TRIPOD_API_PORT"
    printf 'networking:\n  podSubnet: "%s"\n  serviceSubnet: "%s"\n' "$TRIPOD_POD_SUBNET" "$TRIPOD_SERVICE_SUBNET"
    printf 'etcd:\n  external:\n    endpoints: ["https://%s:%s"]\n' "$NODE_IP" "$TRIPOD_ETCD_CLIENT_PORT"
    printf '    caFile: /etc/kubernetes/pki/etcd/ca.crt\n'
    printf '    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt\n'
    printf '    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key\n'
    printf 'apiServer:\n  certSANs: %s\n  extraArgs:\n' "$(cert_sans "$1" "$2" "$NODE_IP" 127.0.0.1 localhost)"
    extra_args '    ' "encryption-provider-config=$ENCRYPTION_DIR/config.yaml"
    printf '  extraVolumes:\n  - {name: encryption, hostPath: %s, mountPath: %s, readOnly: true, pathType: Directory}\n' \
      "$ENCRYPTION_DIR" "$ENCRYPTION_DIR"
    printf 'controllerManager:\n  extraArgs:\n'
    extra_args '    ' leader-elect=true
    printf 'scheduler:\n  extraArgs:\n'
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
  sed -i -E "s#--etcd-servers=[^[:space:]\"]*#--etcd-servers=https://$NODE_IP:$TRIPOD_ETCD_CLIENT_PORT#" "$manifest"
}

# send_node_event DETAIL_TYPE DETAIL_JSON: one tripod.node event on the default bus.
send_node_event() {
  local entries
  entries=$(jq -cn --arg s "$TRIPOD_EVENT_SOURCE" --arg t "$1" --arg d "$2" '[{Source: $s, DetailType: $t, Detail: $d}]')
  aws events put-events --region "$TRIPOD_REGION" --entries "$entries" >/dev/null
  log "sent $TRIPOD_EVENT_SOURCE \"$1\" for $INSTANCE_ID"
}

# send_ready_event ROLE: the tripod.node "Node Ready" event (the reconciler registers the node).
send_ready_event() {
  send_node_event "$TRIPOD_EVENT_DETAIL_TYPE" "$(jq -cn --arg c "$TRIPOD_CLUSTER" --arg i "$INSTANCE_ID" \
    --arg ip "$NODE_IP" --arg z "$ZONE" --arg r "$1" '{cluster: $c, instanceId: $i, ip: $ip, zone: $z, role: $r}')"
}

# member_status IP: the /v3/maintenance/status of the member at IP (learners answer it too).
member_status() {
  curl -sf --max-time 5 --cacert "$TRIPOD_PKI/etcd/ca.crt" --cert "$TRIPOD_PKI/apiserver-etcd-client.crt" \
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
  while [ "$sent" -lt "$TRIPOD_MEMBER_STARTED_MAX" ] && [ "$polls" -lt "${TRIPOD_MEMBER_STARTED_WAIT:-600}" ]; do
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
    detail=$(jq -cn --arg c "$TRIPOD_CLUSTER" --arg i "$INSTANCE_ID" --arg ip "$NODE_IP" --arg z "$ZONE" \
      --arg m "$(jq -r '.header.member_id // ""' <<<"$status")" \
      '{cluster: $c, instanceId: $i, ip: $ip, zone: $z} + (if $m == "" then {} else {memberId: $m} end)')
    send_node_event "$TRIPOD_MEMBER_STARTED_DETAIL_TYPE" "$detail" || log "put-events failed: the next nudge or the schedule covers it"
    sent=$((sent + 1))
    [ "$learner" = true ] || break
    "$TRIPOD_SLEEP" "$TRIPOD_MEMBER_STARTED_EVERY"
  done
  log "member-started: $sent event(s) sent, the member is $([ "${learner:-}" = true ] && echo 'still a learner' || echo 'a voter')"
}

# start_member_started_nudge: runs member_started_loop beside the boot (a transient systemd unit).
start_member_started_nudge() {
  systemd-run --unit tripod-member-started --collect --description 'tripod: nudge the reconciler while a learner' \
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
  token=$(kubeadm token create --kubeconfig "$kc" --ttl "${TRIPOD_TOKEN_TTL_SECONDS}s" \
    --description 'tripod worker join')
  drain=$(kubectl --kubeconfig "$kc" -n kube-system create token tripod-node-drainer \
    --duration "${TRIPOD_TOKEN_TTL_SECONDS}s")
  hash=$(ca_cert_hash "$TRIPOD_PKI/ca.crt")
  # the tokens reach jq on stdin, never as arguments
  printf '%s\n' "$token" "$drain" | jq -cnR --arg h "$hash" --argjson e "$((now + TRIPOD_TOKEN_TTL_SECONDS))" \
    '[inputs] as [$t, $d] | {token: $t, caCertHash: $h, drainToken: $d, expires: $e}' |
    ssm_put_secret "$TRIPOD_WORKER_JOIN_PARAM" --overwrite
  log "published a new worker join token (valid ${TRIPOD_TOKEN_TTL_SECONDS}s)"
}

# --- day one: cluster-admin group and pod network (the seed, once the API serves) -------------------
# admin_rbac: binds TRIPOD_ADMIN_GROUP (the O= of the client certificates `tripod kubeconfig` signs
# with the kubernetes-ca) to cluster-admin.
admin_rbac() {
  printf '%s\n' 'apiVersion: rbac.authorization.k8s.io/v1' 'kind: ClusterRoleBinding' \
    'metadata: {name: tripod-cluster-admins}' \
    'roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}' \
    'subjects:' "- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: \"$TRIPOD_ADMIN_GROUP\"}"
}

# cni_manifest OUT: the pinned pod network manifest (TRIPOD_CNI_MANIFEST_URL), checked against its
# SHA-256 before anything reads it, with network.pods where it names TRIPOD_CNI_DEFAULT_NETWORK.
cni_manifest() {
  local raw="$1.download" from="\"Network\": \"${TRIPOD_CNI_DEFAULT_NETWORK//./\\.}\""
  retry_backoff 300 curl -fsSL -o "$raw" "$TRIPOD_CNI_MANIFEST_URL" || die "cannot download $TRIPOD_CNI_MANIFEST_URL"
  echo "$TRIPOD_CNI_MANIFEST_SHA256  $raw" | sha256sum -c --quiet - >/dev/null 2>&1 ||
    { rm -f "$raw" && die "$TRIPOD_CNI_MANIFEST_URL does not match its pinned SHA-256 $TRIPOD_CNI_MANIFEST_SHA256: NOT applied"; }
  [ "$(grep -c "$from" "$raw")" = 1 ] || die "the pod network manifest names its network $TRIPOD_CNI_DEFAULT_NETWORK not exactly once"
  sed "s#$from#\"Network\": \"$TRIPOD_POD_SUBNET\"#" "$raw" >"$1"
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
  curl -sf --max-time 5 --cacert "$pki/etcd/ca.crt" --cert "$pki/apiserver-etcd-client.crt" \
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
    log "member $JOIN_NAME still listed after ${TRIPOD_LEAVE_TIMEOUT}s: stopping kubelet only, etcd stays up"
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
    aws autoscaling record-lifecycle-action-heartbeat --region "$TRIPOD_REGION" --auto-scaling-group-name "$TRIPOD_GROUP" \
      --lifecycle-hook-name "$1" --instance-id "$INSTANCE_ID" >/dev/null || log "lifecycle heartbeat for $1 failed"
    sleep "${TRIPOD_LIFECYCLE_HEARTBEAT_EVERY:-10}" &
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
  printf '%s\n' '[Unit]' 'Description=tripod: join the cluster once the warm pool hands this master to its group' \
    'Wants=network-online.target' 'After=network-online.target' '[Service]' 'Type=oneshot' \
    "ExecStart=/bin/sh -c '$TRIPOD_BIN boot >>/var/log/tripod-bootstrap.log 2>&1'" \
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
  until [ "$(lifecycle_state || true)" = InService ]; do "$TRIPOD_SLEEP" "${TRIPOD_LIFECYCLE_POLL:-5}"; done
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
