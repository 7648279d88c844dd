#!/usr/bin/env bash
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
  printf '%s\n' "$endpoint" >"$TRIPOD_STATE/api-endpoint"
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
  printf '%s\n' 'apiVersion: v1' 'kind: Config' 'clusters:' '- name: tripod' '  cluster:' \
    "    server: https://$endpoint:$TRIPOD_API_PORT" "    certificate-authority: $TRIPOD_PKI/ca.crt" \
    'users:' '- name: drainer' '  user:' "    token: $(jq -r .drainToken <<<"$doc")" 'contexts:' \
    '- {name: drain, context: {cluster: tripod, user: drainer}}' 'current-context: drain' >"$kc"
  log "leaving: draining $node"
  kubectl --kubeconfig "$kc" drain "$node" --ignore-daemonsets --delete-emptydir-data \
    --timeout "${TRIPOD_DRAIN_TIMEOUT}s" && drained=1
  rm -f "$kc"
  if [ "$drained" = 1 ]; then
    log "drained $node"
    # Tells the reconciler the drain is over (it holds the hook until this or its drain deadline).
    aws ssm put-parameter --region "$TRIPOD_REGION" --name "/tripod/$TRIPOD_CLUSTER/workers/drained/$INSTANCE_ID" \
      --type String --value "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --overwrite >/dev/null ||
      log "could not record the finished drain in SSM"
  else
    log "drain of $node did not finish within ${TRIPOD_DRAIN_TIMEOUT}s"
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
