#!/usr/bin/env bats
# The worker bootstrap's functions, with stand-ins for everything that cannot run here.

load helpers

setup() {
  setup_node
  export TRIPOD_ROLE=worker TRIPOD_GROUP=t1-workers
  export TRIPOD_LAUNCH_HOOK=tripod-worker-launching TRIPOD_TERMINATE_HOOK=tripod-worker-terminating
  # shellcheck source=/dev/null
  . "$SCRIPTS/worker.sh"
  node_identity 2>/dev/null
  ssm_set /tripod/t1/worker-join '{"token":"abcdef.0123456789abcdef","caCertHash":"sha256:1234","drainToken":"drain-jwt","expires":1}'
}

@test "a worker joins through the API DNS name with the bootstrap token and CA hash from SSM, labelled with its zone" {
  worker_boot 2>/dev/null
  calls | grep -qx "kubeadm join --config $TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  cfg="$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q 'apiServerEndpoint: "api.t1.example.com:6443"' "$cfg"
  grep -q 'token: "abcdef.0123456789abcdef"' "$cfg"
  grep -q 'caCertHashes: \["sha256:1234"\]' "$cfg"
  grep -q 'value: "topology.kubernetes.io/zone=eu-west-1a"' "$cfg"
  refute grep -q '^controlPlane:' "$cfg"
  # a worker installs no etcd and does not touch /etc/hosts: it goes through the load balancer
  no_call 'etcd-server'
  [ ! -e "$TRIPOD_ROOT/etc/hosts" ]
  calls | grep -q 'apt-get install -y -q --allow-downgrades kubelet=1.32.4-1.1 kubeadm=1.32.4-1.1 kubectl=1.32.4-1.1$'
  [ "$(line_of 'complete-lifecycle-action.*tripod-worker-launching.*CONTINUE')" -gt "$(line_of '^kubeadm join')" ]
}

@test "without a DNS name in the spec, a worker uses the API load balancer's DNS name" {
  TRIPOD_API_DNS=''
  worker_join 2>/dev/null
  calls | grep -q 'aws elbv2 describe-load-balancers --region eu-west-1 --names t1-api'
  grep -q 'apiServerEndpoint: "internal-t1-api-123.elb.eu-west-1.amazonaws.com:6443"' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
}

@test "a worker waits for the masters' bootstrap token" {
  ssm_set /tripod/t1/worker-join '{"token":"abcdef.0123456789abcdef","caCertHash":"sha256:1234"}' 3
  worker_join 2>/dev/null
  [ "$(cat "$SSM/_tripod_t1_worker-join.polls")" = 4 ]
  [ "$(line_of '^kubeadm join')" -gt 0 ]
}

@test "a leaving worker is cordoned and drained (evictions respect PodDisruptionBudgets) before Auto Scaling continues" {
  make_ca "$TRIPOD_PKI"
  worker_leave 2>/dev/null
  drain=$(line_of '^kubectl .* drain ')
  done=$(line_of 'complete-lifecycle-action .*--lifecycle-hook-name tripod-worker-terminating .*--lifecycle-action-result CONTINUE')
  [ "$drain" -gt 0 ]
  [ "$done" -gt "$drain" ]
  calls | grep '^kubectl' | grep -q -- "drain $(hostname | tr '[:upper:]' '[:lower:]') --ignore-daemonsets --delete-emptydir-data --timeout 120s"
  no_call 'disable-eviction|--force'
}

@test "the drain token reaches kubectl in a 0600 kubeconfig, never on its command line, and the kubeconfig is removed" {
  make_ca "$TRIPOD_PKI"
  worker_join 2>/dev/null
  worker_leave 2>/dev/null
  kc="$TRIPOD_STATE/drain.kubeconfig"
  calls | grep -qx "file-mode $kc 600"
  calls | grep -q "^kubectl --kubeconfig $kc drain "
  no_call ' --token '
  no_call 'drain-jwt'
  [ ! -e "$kc" ]
  # the kubeconfig named the API endpoint and the cluster CA (kubectl saw it before it was removed)
  refute grep -q -- '--server' "$CALLS"
}

@test "a worker's kubeadm configuration (bootstrap token) is 0600 and no token is on a command line" {
  worker_boot 2>/dev/null
  [ "$(stat -c %a "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml")" = 600 ]
  no_secret_in_calls
}

@test "tripod-node dispatches to the role's functions (a worker's leave drains)" {
  make_ca "$TRIPOD_PKI"
  env_file="$BATS_TEST_TMPDIR/node.env"
  for v in "${!TRIPOD_@}"; do printf "%s='%s'\n" "$v" "${!v}"; done >"$env_file"
  TRIPOD_ENV_FILE="$env_file" run "$SCRIPTS/tripod-node.sh" leave
  [ "$status" -eq 0 ]
  [ "$(line_of '^kubectl .* drain ')" -gt 0 ]
  TRIPOD_ENV_FILE="$env_file" run "$SCRIPTS/tripod-node.sh" bogus
  [ "$status" -eq 2 ]
}

@test "a drained worker says so in SSM (the reconciler's cue) before it completes its hook" {
  make_ca "$TRIPOD_PKI"
  worker_leave 2>/dev/null
  key="_tripod_t1_workers_drained_$INSTANCE_ID"
  [ -s "$SSM/$key" ]
  put=$(line_of "aws ssm put-parameter .*--name /tripod/t1/workers/drained/$INSTANCE_ID .*--overwrite")
  done=$(line_of 'complete-lifecycle-action .*tripod-worker-terminating')
  [ "$put" -gt "$(line_of '^kubectl .* drain ')" ]
  [ "$done" -gt "$put" ]
}

@test "a drain that fails or times out signals nothing (the reconciler waits for its deadline); the hook is still completed" {
  make_ca "$TRIPOD_PKI"
  kubectl() {
    echo "kubectl $*" >>"$CALLS"
    return 1
  }
  worker_leave 2>/dev/null
  [ ! -e "$SSM/_tripod_t1_workers_drained_$INSTANCE_ID" ]
  no_call 'workers/drained'
  [ "$(line_of 'complete-lifecycle-action .*tripod-worker-terminating .*CONTINUE')" -gt 0 ]
}
