#!/usr/bin/env bats
# The master's etcd phase for real: members started by the bootstrap's own functions (CAs created by
# the seed and fetched through SSM, certificates issued by etcd-member.sh, TLS everywhere) on unique
# loopback addresses, with the real curl. Only apt, systemctl, kubeadm and aws are stand-ins.

load helpers

setup() {
  setup_node
  # shellcheck source=/dev/null
  . "$SCRIPTS/master.sh"
  rm -f "$STUBS/curl"
  net="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
  export ETCD_EXEC=1 ETCD_HEARTBEAT_INTERVAL=50 ETCD_ELECTION_TIMEOUT=500 TRIPOD_SLEEP=sleep
  PGIDS=()
}

teardown() {
  local pgid
  for pgid in "${PGIDS[@]}"; do kill -- "-$pgid" 2>/dev/null || true; done
}

# as_node NAME IP: this shell acts as master NAME (its own PKI, data and state directories).
as_node() {
  export INSTANCE_ID=$1 NODE_IP=$2 ZONE=eu-west-1a JOIN_NAME=$1
  export TRIPOD_PKI="$BATS_TEST_TMPDIR/$1/pki" TRIPOD_STATE="$BATS_TEST_TMPDIR/$1/state"
  export TRIPOD_ETCD_DATA="$BATS_TEST_TMPDIR/$1/etcd" TRIPOD_SYSTEMD="$BATS_TEST_TMPDIR/$1/systemd"
}

# start_master NAME IP STATE INITIAL_CLUSTER: the bootstrap's CA and etcd steps, in the background.
start_master() {
  local driver="$BATS_TEST_TMPDIR/$1.sh"
  # shellcheck disable=SC2016 # the driver expands them
  printf '%s\n' 'set -euo pipefail' ". '$SCRIPTS/lib.sh'" ". '$SCRIPTS/master.sh'" \
    "JOIN_NAME=$1 JOIN_STATE=$3 JOIN_INITIAL_CLUSTER='$4'" \
    'if [ "$JOIN_STATE" = new ]; then ensure_cluster_cas; else fetch_cluster_cas; fi' \
    'issue_client_cert "$TRIPOD_PKI/etcd" "$TRIPOD_PKI/apiserver-etcd-client" kube-apiserver-etcd-client' \
    'run_etcd_phase' >"$driver"
  (
    as_node "$1" "$2"
    exec setsid bash "$driver" >"$BATS_TEST_TMPDIR/$1.log" 2>&1
  ) &
  PGIDS+=("$!")
}

# etcd_call IP PATH BODY: a gateway call with the calling node's client certificate.
etcd_call() {
  curl -sf --max-time 5 --cacert "$TRIPOD_PKI/etcd/ca.crt" --cert "$TRIPOD_PKI/apiserver-etcd-client.crt" \
    --key "$TRIPOD_PKI/apiserver-etcd-client.key" -X POST -d "$3" "https://$1:2379$2"
}

member_started() { # member_started IP NAME: the member list at IP shows NAME started
  etcd_member_list "$1" | jq -e --arg n "$2" 'any(.members[]; .name == $n)' >/dev/null
}

@test "the seed's etcd phase starts a real TLS member with the CA it created in SSM" {
  start_master i-seed "$net.1" new "i-seed=https://$net.1:2380"
  as_node i-seed "$net.1"
  retry_backoff 30 member_started "$net.1" i-seed || { cat "$BATS_TEST_TMPDIR/i-seed.log"; false; }
  # TLS only: plain HTTP and a client without a certificate are refused
  run curl -sf --max-time 3 -X POST -d '{}' "http://$net.1:2379/v3/cluster/member/list"
  [ "$status" -ne 0 ]
  run curl -sf --max-time 3 --cacert "$TRIPOD_PKI/etcd/ca.crt" -X POST -d '{}' "https://$net.1:2379/v3/cluster/member/list"
  [ "$status" -ne 0 ]
  # the etcd CA in SSM is the one the member's certificates chain to
  grep -q "$(sed -n 2p "$TRIPOD_PKI/etcd/ca.crt")" <<<"$(ssm_value /tripod/t1/pki/etcd-ca)"
  openssl verify -CAfile "$TRIPOD_PKI/etcd/ca.crt" "$TRIPOD_PKI/etcd/server.crt"
}

@test "a joining master's etcd phase joins as the published learner; it stops etcd only once the reconciler removed it" {
  start_master i-seed "$net.1" new "i-seed=https://$net.1:2380"
  as_node i-seed "$net.1"
  retry_backoff 30 member_started "$net.1" i-seed || { cat "$BATS_TEST_TMPDIR/i-seed.log"; false; }
  # the reconciler's part: add the learner, publish the join parameters
  id=$(etcd_call "$net.1" /v3/cluster/member/add "{\"peerURLs\":[\"https://$net.2:2380\"],\"isLearner\":true}" |
    jq -r .member.ID)
  ic="i-seed=https://$net.1:2380,i-join=https://$net.2:2380"
  start_master i-join "$net.2" existing "$ic"
  retry_backoff 30 member_started "$net.1" i-join || { cat "$BATS_TEST_TMPDIR/i-join.log"; false; }

  as_node i-join "$net.2"
  mkdir -p "$TRIPOD_STATE"
  printf '{"name":"i-join","initialCluster":"%s","initialClusterState":"existing"}' "$ic" >"$TRIPOD_STATE/join.json"
  export JOIN_INITIAL_CLUSTER=$ic
  run member_removed
  [ "$status" -ne 0 ]
  # the reconciler removes the member; now the leaving master may stop etcd
  as_node i-seed "$net.1"
  etcd_call "$net.1" /v3/cluster/member/remove "{\"ID\":\"$id\"}" >/dev/null
  as_node i-join "$net.2"
  : >"$CALLS"
  TRIPOD_LEAVE_TIMEOUT=30 master_leave 2>/dev/null
  calls | grep -qx 'systemctl disable --now etcd.service'
}
