#!/usr/bin/env bats
# The master bootstrap's functions, with stand-ins for everything that cannot run here.

load helpers

setup() {
  setup_node
  # shellcheck source=/dev/null
  . "$SCRIPTS/master.sh"
  node_identity 2>/dev/null
  # the cluster configuration the provisioner writes, with the API load balancer's own DNS name
  ssm_set /tripod/t1/config '{"cluster":"t1","apiLoadBalancerDnsName":"t1-api-0123456789abcdef.elb.eu-west-1.amazonaws.com"}'
  # the Secrets encryption configuration kubeadm init's API server reads (the boot writes it first)
  ensure_encryption_config new 2>/dev/null
  : >"$CALLS"
}

# kubeadm_doc KIND PATH: a field of one document of the written kubeadm configuration, as JSON.
kubeadm_doc() {
  node -e 'const y = require("yaml"); const [file, kind, path] = process.argv.slice(1);
    const d = y.parseAllDocuments(require("fs").readFileSync(file, "utf8")).map((x) => x.toJS()).find((x) => x.kind === kind);
    console.log(JSON.stringify(path.split(".").reduce((v, k) => v?.[k], d)));' \
    "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml" "$1" "$2"
}

join_doc() { # join_doc STATE INITIAL_CLUSTER
  printf '{"name":"i-0abc","initialCluster":"%s","initialClusterState":"%s"}' "$2" "$1"
}

@test "a master waits for its join parameters, then runs the etcd phase with the published initial cluster" {
  ic='i-0old1=https://10.0.2.5:2380,i-0old2=https://10.0.3.5:2380,i-0abc=https://10.0.1.5:2380'
  ssm_set /tripod/t1/join/i-0abc "$(join_doc existing "$ic")" 3
  make_ca "$TRIPOD_PKI/etcd"
  wait_for_join_params 2>/dev/null
  [ "$(cat "$SSM/_tripod_t1_join_i-0abc.polls")" = 4 ]
  [ "$JOIN_STATE" = existing ]
  run_etcd_phase 2>/dev/null
  unit="$TRIPOD_ROOT/etc/systemd/system/etcd.service"
  grep -q -- "--initial-cluster=$ic " "$unit"
  grep -q -- '--initial-cluster-state=existing' "$unit"
  grep -q -- '--name=i-0abc' "$unit"
  grep -q -- '--listen-client-urls=https://10.0.1.5:2379' "$unit"
  grep -q -- '--client-cert-auth=true' "$unit"
  grep -q '^Restart=always' "$unit"
  calls | grep -qx 'systemctl restart etcd.service'
  # the API server's etcd client certificate comes from the same CA
  openssl verify -CAfile "$TRIPOD_PKI/etcd/ca.crt" "$TRIPOD_PKI/apiserver-etcd-client.crt"
}

@test "a master gives up (and runs no etcd) when its join parameters never come" {
  TRIPOD_JOIN_TIMEOUT=20
  run wait_for_join_params
  [ "$status" -ne 0 ]
  [[ "$output" == *"no join parameters after 20s"* ]]
  no_call 'systemctl'
}

@test "the seed creates the CAs once, without overwriting, and a later master fetches the same CAs" {
  ensure_cluster_cas 2>/dev/null
  [ "$(calls | grep -c 'ssm put-parameter')" = 4 ]
  no_call 'ssm put-parameter.*--overwrite'
  calls | grep 'ssm put-parameter' | grep -q -- '--type SecureString'
  grep -q 'BEGIN CERTIFICATE' <<<"$(ssm_value /tripod/t1/pki/kubernetes-ca)"
  grep -q 'PRIVATE KEY' <<<"$(ssm_value /tripod/t1/pki/etcd-ca)"
  seed_ca=$(openssl x509 -noout -fingerprint -in "$TRIPOD_PKI/ca.crt")
  rm -rf "$TRIPOD_PKI"
  fetch_cluster_cas 2>/dev/null
  [ "$(openssl x509 -noout -fingerprint -in "$TRIPOD_PKI/ca.crt")" = "$seed_ca" ]
  for f in ca.key etcd/ca.crt etcd/ca.key front-proxy-ca.crt front-proxy-ca.key sa.key sa.pub; do
    [ -s "$TRIPOD_PKI/$f" ]
  done
  [ "$(stat -c %a "$TRIPOD_PKI/ca.key")" = 600 ]
}

@test "a second seed run keeps the CAs already in SSM" {
  ensure_cluster_cas 2>/dev/null
  first=$(ssm_value /tripod/t1/pki/etcd-ca)
  rm -rf "$TRIPOD_PKI"
  : >"$CALLS"
  ensure_cluster_cas 2>/dev/null
  no_call 'ssm put-parameter'
  [ "$(ssm_value /tripod/t1/pki/etcd-ca)" = "$first" ]
  [ "$(cat "$TRIPOD_PKI/etcd/ca.crt" "$TRIPOD_PKI/etcd/ca.key")" = "$first" ]
}

@test "the seed runs kubeadm init with external etcd (the local member) and reaches the API on its own address" {
  seed_control_plane api.t1.example.com 2>/dev/null
  calls | grep -qx "kubeadm init --config $TRIPOD_ROOT/etc/tripod/kubeadm.yaml --skip-token-print"
  cfg="$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q 'kind: InitConfiguration' "$cfg"
  grep -q 'external:' "$cfg"
  grep -q 'endpoints: \["https://10.0.1.5:2379"\]' "$cfg"
  grep -q 'certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt' "$cfg"
  grep -q 'controlPlaneEndpoint: "api.t1.example.com:6443"' "$cfg"
  grep -q 'kubernetesVersion: v1.32.4' "$cfg"
  [ "$(grep -c 'name: leader-elect' "$cfg")" = 2 ]
  grep -q 'value: "topology.kubernetes.io/zone=eu-west-1a"' "$cfg"
  refute grep -q 'local:' "$cfg"
  grep -qx '10.0.1.5 api.t1.example.com # tripod-api' "$TRIPOD_ROOT/etc/hosts"
}

@test "the seed's ClusterConfiguration: pod and service ranges, certificate names for the API DNS name and the load balancer's own, nothing ignored" {
  seed_control_plane api.t1.example.com 2>/dev/null
  [ "$(kubeadm_doc ClusterConfiguration networking)" = '{"podSubnet":"10.244.0.0/16","serviceSubnet":"10.96.0.0/12"}' ]
  [ "$(kubeadm_doc ClusterConfiguration apiServer.certSANs)" = \
    '["api.t1.example.com","t1-api-0123456789abcdef.elb.eu-west-1.amazonaws.com","10.0.1.5","127.0.0.1","localhost"]' ]
  [ "$(kubeadm_doc ClusterConfiguration apiVersion)" = '"kubeadm.k8s.io/v1beta4"' ]
  no_call 'ignore-preflight-errors'
  refute grep -qi 'ignorePreflightErrors' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
}

@test "without apiEndpoint.dnsName the endpoint is the load balancer's name, listed once; an older configuration falls back to ELB" {
  write_init_config t1-api-0123456789abcdef.elb.eu-west-1.amazonaws.com "$(api_lb_dns_name)"
  [ "$(kubeadm_doc ClusterConfiguration apiServer.certSANs)" = \
    '["t1-api-0123456789abcdef.elb.eu-west-1.amazonaws.com","10.0.1.5","127.0.0.1","localhost"]' ]
  ssm_set /tripod/t1/config '{"cluster":"t1"}'
  [ "$(api_lb_dns_name)" = internal-t1-api-123.elb.eu-west-1.amazonaws.com ]
  calls | grep -q 'aws elbv2 describe-load-balancers --region eu-west-1 --names t1-api'
}

@test "the kubeadm stand-in refuses what kubeadm would: wrong apiVersion, v1beta3 extra arguments in v1beta4, unknown fields, a service range over /12" {
  write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  cfg="$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  kubeadm init --config "$cfg"
  cp "$cfg" "$BATS_TEST_TMPDIR/good.yaml"
  sed 's#kubeadm.k8s.io/v1beta4#kubeadm.k8s.io/v1beta3#' "$BATS_TEST_TMPDIR/good.yaml" >"$cfg"
  run kubeadm init --config "$cfg"
  [ "$status" -ne 0 ]
  [[ "$output" == *"kubeadm 1.32.4 reads kubeadm.k8s.io/v1beta4, not kubeadm.k8s.io/v1beta3"* ]]
  sed 's#^    - name: leader-elect#    leader-elect: "true"\n    - name: leader-elect#' "$BATS_TEST_TMPDIR/good.yaml" >"$cfg"
  run kubeadm init --config "$cfg"
  [ "$status" -ne 0 ]
  sed 's#^networking:#networking:\n  podCIDR: 10.1.0.0/16#' "$BATS_TEST_TMPDIR/good.yaml" >"$cfg"
  run kubeadm init --config "$cfg"
  [[ "$output" == *"networking.podCIDR: unknown field"* ]]
  sed 's#10.96.0.0/12#10.0.0.0/8#' "$BATS_TEST_TMPDIR/good.yaml" >"$cfg"
  run kubeadm init --config "$cfg"
  [[ "$output" == *"wider than kubeadm's limit of 20 bits"* ]]
  sed 's#^nodeRegistration:#nodeRegistration:\n  ignorePreflightErrors: [all]#' "$BATS_TEST_TMPDIR/good.yaml" >"$cfg"
  run kubeadm init --config "$cfg"
  [[ "$output" == *"ignorePreflightErrors: tripod never sets this"* ]]
  run kubeadm join --config "$BATS_TEST_TMPDIR/good.yaml"
  [[ "$output" == *"kubeadm join takes JoinConfiguration"* ]]
}

@test "a later master runs kubeadm join --control-plane through another master's address, without a certificate key" {
  JOIN_NAME=i-0abc JOIN_INITIAL_CLUSTER='i-0a=https://10.0.2.5:2380,i-0b=https://10.0.3.5:2380,i-0abc=https://10.0.1.5:2380'
  respond readyz-10.0.2.5 fail
  respond readyz-10.0.3.5 ok
  ssm_set /tripod/t1/worker-join '{"token":"abcdef.0123456789abcdef","caCertHash":"sha256:00","expires":1}'
  make_ca "$TRIPOD_PKI"
  join_control_plane api.t1.example.com 2>/dev/null
  calls | grep -qx "kubeadm join --config $TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  no_call '--certificate-key'
  cfg="$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q 'apiServerEndpoint: "10.0.3.5:6443"' "$cfg"
  grep -q 'token: "abcdef.0123456789abcdef"' "$cfg"
  grep -q "caCertHashes: \[\"$(ca_cert_hash "$TRIPOD_PKI/ca.crt")\"\]" "$cfg"
  grep -q 'advertiseAddress: 10.0.1.5' "$cfg"
  grep -q '^controlPlane:' "$cfg"
  grep -qx '10.0.3.5 api.t1.example.com # tripod-api' "$TRIPOD_ROOT/etc/hosts"
  # its API server talks to its own etcd member, not to the one in the cluster configuration
  grep -qx -- '    - --etcd-servers=https://10.0.1.5:2379' "$TRIPOD_ROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
  grep -qx -- '    - --secure-port=6443' "$TRIPOD_ROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
}

@test "the ready event is sent only after the local /readyz passes, and the API name then points at this master" {
  make_ca "$TRIPOD_PKI/etcd"
  ic='i-0abc=https://10.0.1.5:2380'
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new "$ic")" 1
  respond readyz fail fail fail ok
  master_boot 2>/dev/null
  ok=$(line_of '^readyz -> ok')
  event=$(line_of '^aws events put-events')
  [ "$ok" -gt 0 ]
  [ "$event" -gt "$ok" ]
  [ "$(calls | grep -c '^readyz -> fail')" = 3 ]
  [ "$(line_of '^kubeadm init')" -lt "$ok" ]
  calls | grep '^aws events put-events' | grep -q '"Source":"tripod.node","DetailType":"Node Ready"'
  calls | grep '^aws events put-events' | grep -q '\\"instanceId\\":\\"i-0abc\\"'
  grep -qx '10.0.1.5 api.t1.example.com # tripod-api' "$TRIPOD_ROOT/etc/hosts"
  # the seed published the reconciler's client certificate and the first worker token
  jq -e '.cert and .key and .ca' <<<"$(ssm_value /tripod/t1/pki/reconciler-client)"
  jq -e '.token == "abcdef.0123456789abcdef" and (.caCertHash | startswith("sha256:"))' \
    <<<"$(ssm_value /tripod/t1/worker-join)"
  # the services come back by themselves
  for u in containerd kubelet etcd; do
    grep -q '^Restart=always' "$TRIPOD_ROOT/etc/systemd/system/$u.service.d/10-tripod-restart.conf"
  done
  calls | grep -qx 'systemctl enable --now tripod-watchdog.timer'
  calls | grep -qx 'systemctl enable --now tripod-rotate-token.timer'
  calls | grep -qx 'systemctl enable --now tripod-lifecycle.service'
}

@test "no ready event when the local API server never becomes ready" {
  make_ca "$TRIPOD_PKI/etcd"
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  respond readyz fail
  run master_boot
  [ "$status" -ne 0 ]
  [[ "$output" == *"never became ready"* ]]
  no_call 'events put-events'
}

@test "the pinned Kubernetes version reaches apt, from the repository of its minor version" {
  install_packages master 2>/dev/null
  calls | grep -qx 'apt-get install -y -q --allow-downgrades kubelet=1.32.4-1.1 kubeadm=1.32.4-1.1 kubectl=1.32.4-1.1'
  no_call 'etcd-server|etcd-client'
  grep -q 'https://repo.invalid/core:/stable:/v1.32/deb/ /' "$TRIPOD_ROOT/etc/apt/sources.list.d/kubernetes.list"
  calls | grep -qx 'apt-mark hold containerd kubelet kubeadm kubectl'
  grep -q 'SystemdCgroup = true' "$TRIPOD_ROOT/etc/containerd/config.toml"
  # packaged services were kept from starting during the install, and the packaged etcd stays off
  [ ! -e "$TRIPOD_ROOT/usr/sbin/policy-rc.d" ]
}

@test "a master installs the pinned etcd release from its official tarball, checked against the pinned SHA-256" {
  install_etcd 2>/dev/null
  calls | grep -qE "^curl .* https://releases.invalid/etcd/v3.5.33/etcd-v3.5.33-linux-(amd64|arm64).tar.gz"
  for tool in etcd etcdctl etcdutl; do [ -x "$TRIPOD_ROOT/usr/local/bin/$tool" ]; done
  [ "$("$TRIPOD_ROOT/usr/local/bin/etcd" --version)" = "etcd Version: 3.5.33" ]
  [ ! -e "$TRIPOD_STATE/etcd-download" ]
  # a second run keeps what is there and downloads nothing
  : >"$CALLS"
  install_etcd 2>/dev/null
  no_call '^curl'
}

@test "an etcd tarball that does not match its pinned SHA-256 stops the boot and installs nothing" {
  fake_etcd_release 0000000000000000000000000000000000000000000000000000000000000000
  run install_packages master
  [ "$status" -ne 0 ]
  [[ "$output" == *"does not match its pinned SHA-256 0000000000000000000000000000000000000000000000000000000000000000: etcd NOT installed"* ]]
  [ ! -e "$TRIPOD_ROOT/usr/local/bin/etcd" ]
  no_call 'systemctl restart containerd'
}

@test "a failing etcd download is retried, then stops the boot with the URL" {
  rm "$RESP/etcd-tarball"
  run install_etcd
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot download https://releases.invalid/etcd/v3.5.33/etcd-v3.5.33-linux-"* ]]
  [ "$(calls | grep -c '^curl ')" -gt 1 ]
  [ ! -e "$TRIPOD_ROOT/usr/local/bin/etcd" ]
}

@test "a version the repository lacks stops the bootstrap with a clear error" {
  TRIPOD_K8S_VERSION=1.32.9
  run install_packages master
  [ "$status" -ne 0 ]
  [[ "$output" == *"kubeadm 1.32.9 is not in https://repo.invalid/core:/stable:/v1.32/deb/"* ]]
}

@test "a terminating master stops etcd only after the reconciler removed its member" {
  mkdir -p "$TRIPOD_ROOT/var/lib/tripod"
  join_doc existing 'i-0a=https://10.0.2.5:2380,i-0abc=https://10.0.1.5:2380' >"$TRIPOD_ROOT/var/lib/tripod/join.json"
  with='{"members":[{"ID":"1","name":"i-0a","clientURLs":["https://10.0.2.5:2379"]},{"ID":"2","name":"i-0abc","clientURLs":["https://10.0.1.5:2379"]}]}'
  without='{"members":[{"ID":"1","name":"i-0a","clientURLs":["https://10.0.2.5:2379"]}]}'
  respond members-10.0.1.5 "$with" "$with" fail
  respond members-10.0.2.5 "$without"
  master_leave 2>/dev/null
  removed=$(line_of "^members-10.0.2.5 -> ")
  stop=$(line_of '^systemctl disable --now etcd.service')
  [ "$removed" -gt 0 ]
  [ "$stop" -gt "$removed" ]
  [ "$(line_of '^systemctl disable --now tripod-watchdog.timer')" -lt "$stop" ]
  [ "$(calls | grep -c '^members-10.0.1.5 -> {')" = 2 ]
}

@test "a terminating master whose member is never removed keeps etcd running" {
  mkdir -p "$TRIPOD_ROOT/var/lib/tripod"
  join_doc existing 'i-0abc=https://10.0.1.5:2380' >"$TRIPOD_ROOT/var/lib/tripod/join.json"
  respond members-10.0.1.5 '{"members":[{"ID":"2","name":"i-0abc","clientURLs":["https://10.0.1.5:2379"]}]}'
  TRIPOD_LEAVE_TIMEOUT=30
  run master_leave
  [ "$status" -ne 0 ]
  no_call 'etcd.service'
}

@test "the worker token is rotated before it expires, and left alone while fresh" {
  make_ca "$TRIPOD_PKI"
  ssm_set /tripod/t1/worker-join "{\"token\":\"old\",\"caCertHash\":\"sha256:00\",\"expires\":$(($(date +%s) + 50000))}"
  rotate_worker_token 2>/dev/null
  no_call 'token create'
  ssm_set /tripod/t1/worker-join "{\"token\":\"old\",\"caCertHash\":\"sha256:00\",\"expires\":$(($(date +%s) + 3600))}"
  rotate_worker_token 2>/dev/null
  calls | grep -q 'kubeadm token create --kubeconfig .*/admin.conf --ttl 86400s'
  calls | grep -q 'kubectl .* create token tripod-node-drainer'
  jq -e '.token == "abcdef.0123456789abcdef" and .expires > now + 80000' <<<"$(ssm_value /tripod/t1/worker-join)"
}

@test "a master's watchdog restarts dead services but never reports its master Unhealthy (only the reconciler replaces a master)" {
  install_watchdog containerd kubelet etcd 2>/dev/null
  stub systemctl 'case "$*" in "is-active --quiet etcd") exit 3 ;; esac'
  for _ in 1 2 3 4 5; do watchdog_check 2>/dev/null; done
  [ "$(calls | grep -cx 'systemctl restart etcd')" -eq 5 ]
  no_call 'set-instance-health'
}

@test "a master whose bootstrap stops writes its boot-failed record (the reconciler abandons it at once)" {
  env_file="$BATS_TEST_TMPDIR/node.env"
  export TRIPOD_BOOT_FAILED_PREFIX=/tripod/t1/boot-failed/ TRIPOD_JOIN_TIMEOUT=0
  for v in "${!TRIPOD_@}"; do printf "%s='%s'\n" "$v" "${!v}"; done >"$env_file"
  stub apt-get 'exit 100' # the packages cannot be installed
  TRIPOD_ENV_FILE="$env_file" run "$SCRIPTS/tripod-node.sh" boot
  [ "$status" -ne 0 ]
  put=$(calls | grep 'aws ssm put-parameter .*--name /tripod/t1/boot-failed/i-0abc ')
  [[ "$put" == *"--type String --overwrite --value bootstrap stopped (status 1)"* ]]
  # a boot that succeeds writes nothing: report_boot_failure 0 is a no-op
  : >"$CALLS"
  report_boot_failure 0
  no_call 'boot-failed'
}

@test "a worker's watchdog reports its instance Unhealthy when its services stay dead" {
  export TRIPOD_ROLE=worker
  install_watchdog containerd kubelet 2>/dev/null
  stub systemctl 'case "$*" in "is-active --quiet kubelet") exit 3 ;; esac'
  watchdog_check 2>/dev/null
  watchdog_check 2>/dev/null
  no_call 'set-instance-health'
  calls | grep -qx 'systemctl restart kubelet'
  watchdog_check 2>/dev/null
  calls | grep -q 'aws autoscaling set-instance-health --region eu-west-1 --instance-id i-0abc --health-status Unhealthy'
}

@test "a service that comes back resets the watchdog" {
  export TRIPOD_ROLE=worker # a master's is never reported anyway
  install_watchdog kubelet 2>/dev/null
  stub systemctl 'case "$*" in "is-active --quiet kubelet") exit 3 ;; esac'
  watchdog_check 2>/dev/null
  watchdog_check 2>/dev/null
  stub systemctl
  watchdog_check 2>/dev/null
  stub systemctl 'case "$*" in "is-active --quiet kubelet") exit 3 ;; esac'
  watchdog_check 2>/dev/null
  watchdog_check 2>/dev/null
  no_call 'set-instance-health'
}

@test "the lifecycle watcher leaves once Auto Scaling targets Terminated" {
  respond lifecycle InService InService Terminated
  leave() { echo LEAVE >>"$CALLS"; }
  watch_lifecycle 2>/dev/null
  [ "$(calls | grep -c '^lifecycle -> InService')" = 2 ]
  [ "$(line_of '^LEAVE')" -gt "$(line_of '^lifecycle -> Terminated')" ]
}

@test "kubeadm's configuration format follows the Kubernetes version (v1beta4 from 1.31, v1beta3 before)" {
  write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  grep -q 'apiVersion: kubeadm.k8s.io/v1beta4' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q -- '- name: leader-elect' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  kubeadm init --config "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  TRIPOD_K8S_VERSION=1.30.6 write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  TRIPOD_K8S_VERSION=1.30.6 kubeadm init --config "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q 'apiVersion: kubeadm.k8s.io/v1beta3' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q '^    leader-elect: "true"' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q '^    node-labels: "topology.kubernetes.io/zone=eu-west-1a"' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  grep -q 'kubernetesVersion: v1.30.6' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
}

@test "schedulable masters drop the control-plane taint" {
  write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  refute grep -q 'taints:' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  TRIPOD_SCHEDULABLE=true write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  grep -q '^  taints: \[\]' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
}

# restore_case: a restore record for a snapshot in the S3 stand-in; SHA is the recorded SHA-256.
restore_case() { # restore_case [SHA]
  export S3="$BATS_TEST_TMPDIR/s3"
  mkdir -p "$S3"
  printf 'etcd snapshot bytes' >"$S3/t1_2026-01-01T00-00-00Z-rev42.db"
  sha=${1:-$(sha256sum "$S3/t1_2026-01-01T00-00-00Z-rev42.db" | cut -d' ' -f1)}
  ssm_set /tripod/t1/restore "{\"bucket\":\"tripod-t1-123456789012-eu-west-1-backups\",\"key\":\"t1/2026-01-01T00-00-00Z-rev42.db\",\"sha256\":\"$sha\",\"revision\":42}"
  # etcdutl restores by writing the data directory
  stub etcdutl 'for a in "$@"; do case "$a" in --data-dir=*) mkdir -p "${a#--data-dir=}/member" && echo restored >"${a#--data-dir=}/member/snap" ;; esac; done'
  make_ca "$TRIPOD_PKI/etcd"
  mkdir -p "$TRIPOD_ETCD_DATA/member"
  echo old >"$TRIPOD_ETCD_DATA/member/old"
}

@test "the seed of a restore starts etcd from the recorded snapshot: download, SHA-256 check, old data aside, etcdutl snapshot restore, state new with a fresh token" {
  restore_case
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  wait_for_join_params 2>/dev/null
  run_etcd_phase 2>/dev/null
  calls | grep -q 'aws s3api get-object --region eu-west-1 --bucket tripod-t1-123456789012-eu-west-1-backups --key t1/2026-01-01T00-00-00Z-rev42.db '
  calls | grep -E '^etcdutl snapshot restore ' | grep -q -- "--name=i-0abc --initial-cluster=i-0abc=https://10.0.1.5:2380 --initial-advertise-peer-urls=https://10.0.1.5:2380 --initial-cluster-token=tripod-restore-[0-9]* --data-dir=$TRIPOD_ETCD_DATA"
  [ "$(cat "$TRIPOD_ETCD_DATA/member/snap")" = restored ]
  aside=$(ls -d "$TRIPOD_ETCD_DATA".before-restore-*)
  [ "$(cat "$aside/member/old")" = old ]
  unit="$TRIPOD_ROOT/etc/systemd/system/etcd.service"
  grep -q -- '--initial-cluster-state=new' "$unit"
  grep -qE -- '--initial-cluster-token=tripod-restore-[0-9]+' "$unit"
  [ "$(line_of '^etcdutl snapshot restore')" -lt "$(line_of 'systemctl restart etcd.service')" ]
  [ ! -e "$TRIPOD_STATE/restore.db" ]
}

@test "a snapshot whose SHA-256 does not match the record stops the boot before anything changes" {
  restore_case 0000000000000000000000000000000000000000000000000000000000000000
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  wait_for_join_params 2>/dev/null
  run run_etcd_phase
  [ "$status" -ne 0 ]
  [[ "$output" == *"corrupt or truncated"* ]]
  no_call '^etcdutl'
  no_call 'systemctl restart etcd'
  [ "$(cat "$TRIPOD_ETCD_DATA/member/old")" = old ]
  [ ! -e "$TRIPOD_STATE/restore.db" ]
}

@test "a joining master restores nothing while a restore is recorded, and without a record the seed starts empty" {
  restore_case
  ic='i-0seed=https://10.0.2.5:2380,i-0abc=https://10.0.1.5:2380'
  ssm_set /tripod/t1/join/i-0abc "$(join_doc existing "$ic")"
  wait_for_join_params 2>/dev/null
  run_etcd_phase 2>/dev/null
  no_call 's3api get-object'
  no_call '^etcdutl'
  grep -q -- '--initial-cluster-token=tripod-etcd' "$TRIPOD_ROOT/etc/systemd/system/etcd.service"
  rm -f "$SSM/_tripod_t1_restore"
  JOIN_STATE=new
  run_etcd_phase 2>/dev/null
  no_call 's3api get-object'
  grep -q -- '--initial-cluster-state=new' "$TRIPOD_ROOT/etc/systemd/system/etcd.service"
}

# restore_join REQ: the seed's restore join (state new, `restore` = the record's requestedAt).
restore_join() {
  printf '{"name":"i-0abc","initialCluster":"i-0abc=https://10.0.1.5:2380","initialClusterState":"new","restore":"%s"}' "$1"
}

@test "restore_watch: a running master whose join asks for a restore stops etcd, restores once, starts a new one-member cluster" {
  restore_case
  ssm_set /tripod/t1/restore "$(ssm_value /tripod/t1/restore | jq -c '. + {requestedAt: "R1"}')"
  ssm_set /tripod/t1/join/i-0abc "$(restore_join R1)"
  # `run`: a subshell, so restore_watch's EXIT trap handling never touches bats's own trap
  run restore_watch
  [ "$status" = 0 ]
  [ "$(line_of 'systemctl stop etcd.service')" -lt "$(line_of '^etcdutl snapshot restore')" ]
  [ "$(line_of '^etcdutl snapshot restore')" -lt "$(line_of 'systemctl restart etcd.service')" ]
  grep -q -- '--initial-cluster-state=new' "$TRIPOD_ROOT/etc/systemd/system/etcd.service"
  [ "$(cat "$TRIPOD_STATE/restored")" = R1 ]
  [ "$(jq -r .restore "$TRIPOD_STATE/join.json")" = R1 ]
  calls | grep -q '^systemd-run --unit tripod-member-started'
  # once per restore: the next tick does nothing
  run restore_watch
  [ "$status" = 0 ]
  [ "$(calls | grep -c '^etcdutl snapshot restore')" = 1 ]
}

@test "restore_watch: stops a watchdog check already running (its service, not only its timer) before etcd, and starts only the timer again" {
  restore_case
  ssm_set /tripod/t1/restore "$(ssm_value /tripod/t1/restore | jq -c '. + {requestedAt: "R1"}')"
  ssm_set /tripod/t1/join/i-0abc "$(restore_join R1)"
  run restore_watch # in a subshell: its EXIT traps are not bats's
  [ "$status" = 0 ]
  # a timer only orders its service: stopping the timer leaves a check that is running restart etcd
  stop=$(line_of '^systemctl stop tripod-watchdog.timer tripod-watchdog.service$')
  [ "$stop" -gt 0 ]
  [ "$stop" -lt "$(line_of 'systemctl stop etcd.service')" ]
  [ "$(line_of '^systemctl start tripod-watchdog.timer$')" -gt "$(line_of '^etcdutl snapshot restore')" ]
  no_call '^systemctl (start|restart) .*tripod-watchdog.service'
}

@test "restore_watch: a restore that fails starts the watchdog again (etcd comes back on its old data), and the next tick retries" {
  restore_case 0000000000000000000000000000000000000000000000000000000000000000
  ssm_set /tripod/t1/restore "$(ssm_value /tripod/t1/restore | jq -c '. + {requestedAt: "R1"}')"
  ssm_set /tripod/t1/join/i-0abc "$(restore_join R1)"
  run restore_watch
  [ "$status" -ne 0 ]
  [[ "$output" == *"corrupt or truncated"* ]]
  [ "$(line_of 'systemctl stop tripod-watchdog.timer')" -lt "$(line_of 'systemctl start tripod-watchdog.timer')" ]
  [ "$(cat "$TRIPOD_ETCD_DATA/member/old")" = old ]
  [ ! -e "$TRIPOD_STATE/restored" ]
}

@test "restore_watch: an etcdutl restore that fails half-way puts the old data back before the watchdog restarts etcd (never an empty new cluster)" {
  restore_case
  ssm_set /tripod/t1/restore "$(ssm_value /tripod/t1/restore | jq -c '. + {requestedAt: "R1"}')"
  ssm_set /tripod/t1/join/i-0abc "$(restore_join R1)"
  # etcdutl writes part of the new data directory, then fails
  stub etcdutl 'for a in "$@"; do case "$a" in --data-dir=*) mkdir -p "${a#--data-dir=}/member/wal" && echo partial >"${a#--data-dir=}/member/wal/0" ;; esac; done; exit 1'
  run restore_watch
  [ "$status" -ne 0 ]
  [[ "$output" == *"etcdutl snapshot restore of s3://"*"failed"* ]]
  # the watchdog comes back (and restarts etcd.service) only on the old data, nothing of the partial restore
  [ "$(cat "$TRIPOD_ETCD_DATA/member/old")" = old ]
  [ ! -e "$TRIPOD_ETCD_DATA/member/wal" ]
  refute compgen -G "$TRIPOD_ETCD_DATA.before-restore-*"
  [ "$(line_of '^etcdutl snapshot restore')" -lt "$(line_of 'systemctl start tripod-watchdog.timer')" ]
  no_call 'systemctl restart etcd'
  [ ! -e "$TRIPOD_STATE/restore.db" ]
  [ ! -e "$TRIPOD_STATE/restored" ]
}

@test "restore_watch: nothing without a restore join; a join naming another restore than the record restores nothing" {
  restore_case
  ssm_set /tripod/t1/join/i-0abc "$(join_doc existing 'i-0abc=https://10.0.1.5:2380')"
  restore_watch 2>/dev/null
  no_call 'systemctl stop etcd'
  ssm_set /tripod/t1/join/i-0abc "$(restore_join R2)"
  run restore_watch
  [ "$status" -ne 0 ]
  [[ "$output" == *"the restore record is another one"* ]]
  no_call 'systemctl stop etcd'
  no_call '^etcdutl'
  [ "$(cat "$TRIPOD_ETCD_DATA/member/old")" = old ]
}

# status_doc LEADER IS_LEARNER [RAFT_INDEX [MEMBER_ID]]: a member's /v3/maintenance/status, as etcd's
# JSON API gives it (uint64 as decimal strings).
status_doc() {
  printf '{"header":{"member_id":"%s"},"leader":"%s","raftIndex":"%s","isLearner":%s}' \
    "${4:-10276657743932975437}" "$1" "${3:-1000}" "$2"
}

# a_leader_at_10_0_2_5 [RAFT_INDEX]: the join parameters name 10.0.2.5 (and 10.0.3.5, which does not
# answer); the member there is the leader (id 42) at RAFT_INDEX (default 1000).
a_leader_at_10_0_2_5() {
  mkdir -p "$TRIPOD_STATE"
  join_doc existing 'i-0old1=https://10.0.3.5:2380,i-0old2=https://10.0.2.5:2380,i-0abc=https://10.0.1.5:2380' \
    >"$TRIPOD_STATE/join.json"
  respond status-10.0.3.5 fail
  respond status-10.0.2.5 "$(status_doc 42 false "${1:-1000}" 42)"
}

@test "a learner's node sends Member Started once its member serves, every 10 s while a learner, and stops once promoted" {
  stub sleeper
  export TRIPOD_SLEEP=sleeper
  a_leader_at_10_0_2_5
  respond status-10.0.1.5 fail "$(status_doc 0 true)" "$(status_doc 42 true)" "$(status_doc 42 true)" "$(status_doc 42 false)"
  member_started_loop 2>/dev/null
  [ "$(calls | grep -c '^aws events put-events')" = 2 ]
  [ "$(calls | grep '^aws events put-events' | grep -c '"Source":"tripod.node","DetailType":"Member Started"')" = 2 ]
  calls | grep '^aws events put-events' | grep -q '\\"instanceId\\":\\"i-0abc\\",\\"ip\\":\\"10.0.1.5\\",\\"zone\\":\\"eu-west-1a\\",\\"memberId\\":\\"10276657743932975437\\"'
  # not serving yet (no answer, then no leader): polled every second; between nudges: 10 s
  [ "$(calls | grep -c '^sleeper 1$')" = 2 ]
  [ "$(calls | grep -c '^sleeper 10$')" = 2 ]
  # the voter's status was read, and no event followed it
  [ "$(line_of '^status-10.0.1.5 -> .*"isLearner":false')" -gt "$(calls | grep -n '^aws events put-events' | tail -1 | cut -d: -f1)" ]
}

@test "a learner's first Member Started waits until it is in sync: raft index >= 90 % of the leader's (etcd's promotion test)" {
  stub sleeper
  export TRIPOD_SLEEP=sleeper
  a_leader_at_10_0_2_5 1000
  respond status-10.0.1.5 "$(status_doc 42 true 12)" "$(status_doc 42 true 899)" "$(status_doc 42 true 900)" \
    "$(status_doc 42 false 1000)"
  member_started_loop 2>/dev/null
  [ "$(calls | grep -c '^aws events put-events')" = 1 ]
  # two polls a second apart while behind (12 and 899 of 1000), the event at 900, then the voter
  [ "$(calls | grep -c '^sleeper 1$')" = 2 ]
  [ "$(line_of '^aws events put-events')" -gt "$(line_of '"raftIndex":"900"')" ]
  # the leader is found by its id: the member that did not answer is skipped
  [ "$(calls | grep -c '^status-10.0.2.5 -> ')" = 3 ]
}

@test "a learner whose leader cannot be asked sends no Member Started (the schedule promotes it)" {
  export TRIPOD_SLEEP=true
  a_leader_at_10_0_2_5
  respond status-10.0.2.5 fail
  respond status-10.0.1.5 "$(status_doc 42 true 1000)"
  TRIPOD_MEMBER_STARTED_WAIT=4 member_started_loop 2>/dev/null
  [ "$(calls | grep -c '^aws events put-events')" = 0 ]
}

@test "Member Started is bounded: at most TRIPOD_MEMBER_STARTED_MAX events while the member stays a learner" {
  a_leader_at_10_0_2_5
  export TRIPOD_MEMBER_STARTED_MAX=3
  respond status-10.0.1.5 "$(status_doc 42 true)"
  member_started_loop 2>/dev/null
  [ "$(calls | grep -c '^aws events put-events')" = 3 ]
}

@test "a member that is a voter at once (the seed) sends one Member Started; one that never serves sends none" {
  respond status-10.0.1.5 "$(status_doc 42 false)"
  member_started_loop 2>/dev/null
  [ "$(calls | grep -c '^aws events put-events')" = 1 ]
  : >"$CALLS"
  respond status-10.0.1.5 fail
  TRIPOD_MEMBER_STARTED_WAIT=5 member_started_loop 2>/dev/null
  [ "$(calls | grep -c '^aws events put-events')" = 0 ]
  [ "$(calls | grep -c '^status-10.0.1.5 -> fail')" = 5 ]
}

@test "the boot starts the Member Started nudge right after the etcd phase, before the control plane" {
  make_ca "$TRIPOD_PKI/etcd"
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  master_boot 2>/dev/null
  nudge=$(line_of '^systemd-run --unit tripod-member-started .* /opt/tripod/tripod-node member-started$')
  [ "$nudge" -gt "$(line_of '^systemctl .*etcd')" ]
  [ "$nudge" -lt "$(line_of '^kubeadm init')" ]
}

# --- secrets: never on a command line, in a log or a loose file (issue 15, finding 6) -------------------

@test "a whole seed boot and token rotation put no key, certificate or token on any command line, and every secret file is 0600" {
  make_ca "$TRIPOD_PKI/etcd"
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  rm -f "$SSM/_tripod_t1_pki_encryption-key"
  master_boot >"$BATS_TEST_TMPDIR/boot.log" 2>&1
  # the CAs, the reconciler's key and the worker join document went to SSM as SecureStrings, from 0600 files
  [ "$(calls | grep -c '^aws ssm put-parameter .*--type SecureString .*--value file://')" -ge 6 ]
  no_call 'put-parameter .*--value [^f]'
  # under the cluster's own KMS key, never the account-wide aws/ssm
  [ "$(calls | grep -c '^aws ssm put-parameter .*--type SecureString --key-id alias/tripod-t1 ')" = \
    "$(calls | grep -c '^aws ssm put-parameter .*--type SecureString')" ]
  refute grep -q '^file-mode .* [0-7][0-7][1-7]$' "$CALLS"
  refute grep -q '^file-mode .* [0-7][1-7][0-7]$' "$CALLS"
  jq -e '.token and .drainToken' <<<"$(ssm_value /tripod/t1/worker-join)"
  no_secret_in_calls
  # kubeadm init prints no token (--skip-token-print) into the boot log
  refute grep -qE '[a-z0-9]{6}\.[a-z0-9]{16}' "$BATS_TEST_TMPDIR/boot.log"
  for f in etc/tripod/kubeadm.yaml etc/kubernetes/pki/ca.key etc/kubernetes/pki/etcd/ca.key \
    etc/kubernetes/pki/front-proxy-ca.key etc/kubernetes/pki/sa.key etc/kubernetes/pki/apiserver-etcd-client.key \
    etc/kubernetes/encryption/config.yaml; do
    [ "$(stat -c %a "$TRIPOD_ROOT/$f")" = 600 ] || { echo "$f is $(stat -c %a "$TRIPOD_ROOT/$f")" && return 1; }
  done
  [ "$(stat -c %a "$TRIPOD_ROOT/etc/kubernetes/encryption")" = 700 ]
  # no temp file holding a secret is left behind
  [ ! -e "$TRIPOD_STATE/reconciler-client.key" ]
  for f in $(calls | sed -n 's#^file-mode \(.*\) 600$#\1#p'); do
    case "$f" in "$TRIPOD_ROOT"/*) ;; *) [ ! -e "$f" ] || { echo "left behind: $f" && return 1; } ;; esac
  done
}

@test "kubeadm init without --skip-token-print would print the token: the stand-in shows it, tripod never lets it" {
  write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  run kubeadm init --config "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  [[ "$output" == *"--token abcdef.0123456789abcdef"* ]]
  run kubeadm init --config "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml" --skip-token-print
  [ "$status" -eq 0 ]
  [[ "$output" != *"abcdef.0123456789abcdef"* ]]
  # flags the configuration would set are refused with --config, as kubeadm does
  run kubeadm init --config "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml" --token abcdef.0123456789abcdef
  [ "$status" -ne 0 ]
  [[ "$output" == *"can not mix '--config' with arguments [token]"* ]]
}

@test "a kubeadm configuration (it may hold a token) is written 0600, even over an older 0644 one" {
  mkdir -p "$TRIPOD_ROOT/etc/tripod"
  (umask 022 && echo old >"$TRIPOD_ROOT/etc/tripod/kubeadm.yaml")
  write_join_config master 10.0.3.5:6443 abcdef.0123456789abcdef sha256:00
  [ "$(stat -c %a "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml")" = 600 ]
  chmod 644 "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  run kubeadm join --config "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  [ "$status" -ne 0 ]
  [[ "$output" == *"mode 644: a kubeadm configuration may hold a token"* ]]
}

@test "CA keys fetched from SSM are never world-readable, not even briefly, and certificates stay readable" {
  ensure_cluster_cas 2>/dev/null
  rm -rf "$TRIPOD_PKI"
  mkdir -p "$TRIPOD_PKI"
  (umask 022 && echo old >"$TRIPOD_PKI/ca.key")
  # a key file is 0600 before its first byte: awk writes it under umask 077 into a file made 0600 first
  umask 022
  fetch_cluster_cas 2>/dev/null
  [ "$(stat -c %a "$TRIPOD_PKI/ca.key")" = 600 ]
  [ "$(stat -c %a "$TRIPOD_PKI/ca.crt")" = 644 ]
  [ "$(stat -c %a "$TRIPOD_PKI/sa.key")" = 600 ]
  no_secret_in_calls
}

@test "the aws stand-in refuses a SecureString value on the command line and a world-readable value file" {
  run aws ssm put-parameter --region eu-west-1 --name /tripod/t1/pki/x --type SecureString --value secret
  [ "$status" -ne 0 ]
  [[ "$output" == *"a SecureString value on the command line"* ]]
  f="$BATS_TEST_TMPDIR/value"
  (umask 022 && echo secret >"$f")
  run aws ssm put-parameter --region eu-west-1 --name /tripod/t1/pki/x --type SecureString --value "file://$f"
  [ "$status" -ne 0 ]
  [[ "$output" == *"holds a secret but is mode 644"* ]]
}

@test "the worker join document is built without the tokens on jq's command line" {
  make_ca "$TRIPOD_PKI"
  rotate_worker_token 2>/dev/null
  jq -e '.token == "abcdef.0123456789abcdef" and (.drainToken | startswith("eyJ")) and .expires > now' \
    <<<"$(ssm_value /tripod/t1/worker-join)"
  calls | grep -q 'put-parameter .*--name /tripod/t1/worker-join .*--value file://.* --overwrite'
  no_secret_in_calls
}

# --- Kubernetes Secrets encrypted at rest -------------------------------------------------------------

@test "the seed makes one Secrets encryption key, stores it like a CA, and every master writes the same 0600 configuration" {
  rm -f "$SSM/_tripod_t1_pki_encryption-key"
  ensure_encryption_config new 2>/dev/null
  key=$(ssm_value /tripod/t1/pki/encryption-key)
  [ "$(base64 -d <<<"$key" | wc -c)" = 32 ]
  calls | grep -q 'put-parameter .*--name /tripod/t1/pki/encryption-key --type SecureString .*--value file://'
  no_call 'put-parameter .*encryption-key.*--overwrite'
  cfg="$TRIPOD_ROOT/etc/kubernetes/encryption/config.yaml"
  grep -qF "secret: \"$key\"" "$cfg"
  first=$(cat "$cfg")
  # a joining master (and a second seed run) takes the stored key
  rm -rf "$TRIPOD_ROOT/etc/kubernetes/encryption"
  ensure_encryption_config existing 2>/dev/null
  [ "$(cat "$cfg")" = "$first" ]
  ensure_encryption_config new 2>/dev/null
  [ "$(cat "$cfg")" = "$first" ]
  [ "$(calls | grep -c 'put-parameter .*encryption-key')" = 1 ]
  no_secret_in_calls
}

@test "the seed's kubeadm configuration passes the encryption configuration to the API server and mounts it; the stand-in checks the shape" {
  seed_control_plane api.t1.example.com 2>/dev/null
  [ "$(kubeadm_doc ClusterConfiguration apiServer.extraArgs)" = \
    '[{"name":"encryption-provider-config","value":"/etc/kubernetes/encryption/config.yaml"}]' ]
  [ "$(kubeadm_doc ClusterConfiguration apiServer.extraVolumes)" = \
    '[{"name":"encryption","hostPath":"/etc/kubernetes/encryption","mountPath":"/etc/kubernetes/encryption","readOnly":true,"pathType":"Directory"}]' ]
  TRIPOD_K8S_VERSION=1.30.6 write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  TRIPOD_K8S_VERSION=1.30.6 kubeadm init --config "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml" --skip-token-print
  grep -q '^    encryption-provider-config: "/etc/kubernetes/encryption/config.yaml"' "$TRIPOD_ROOT/etc/tripod/kubeadm.yaml"
  # what the stand-in refuses: no encryption, a world-readable file, an identity provider first, a short key
  cfg="$TRIPOD_ROOT/etc/tripod/kubeadm.yaml" enc="$TRIPOD_ROOT/etc/kubernetes/encryption/config.yaml"
  write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  cp "$enc" "$BATS_TEST_TMPDIR/enc.yaml"
  chmod 644 "$enc"
  run kubeadm init --config "$cfg" --skip-token-print
  [[ "$output" == *"mode 644: it holds the key, must be 0600"* ]]
  chmod 600 "$enc"
  sed -i 's/- secretbox:/- identity: {}\n  - secretbox:/' "$enc"
  run kubeadm init --config "$cfg" --skip-token-print
  [[ "$output" == *"the first provider is identity: Secrets would be written unencrypted"* ]]
  sed 's/secret: ".*"/secret: "c2hvcnQ="/' "$BATS_TEST_TMPDIR/enc.yaml" >"$enc"
  run kubeadm init --config "$cfg" --skip-token-print
  [[ "$output" == *"secretbox key key1: must be base64 of 32 bytes"* ]]
  sed -i '/encryption-provider-config/,+1d' "$cfg"
  run kubeadm init --config "$cfg" --skip-token-print
  [[ "$output" == *"no encryption-provider-config: tripod encrypts Secrets at rest"* ]]
  rm "$enc"
  write_init_config api.t1.example.com t1-api.elb.eu-west-1.amazonaws.com
  run kubeadm init --config "$cfg" --skip-token-print
  [[ "$output" == *"missing on the host"* ]]
}

@test "a joining master writes the cluster's encryption configuration before kubeadm join (the API server it starts reads it)" {
  make_ca "$TRIPOD_PKI/etcd"
  ic='i-0seed=https://10.0.2.5:2380,i-0abc=https://10.0.1.5:2380'
  ssm_set /tripod/t1/join/i-0abc "$(join_doc existing "$ic")"
  rm -rf "$TRIPOD_ROOT/etc/kubernetes/encryption"
  ensure_cluster_cas 2>/dev/null
  ssm_set /tripod/t1/worker-join '{"token":"abcdef.0123456789abcdef","caCertHash":"sha256:00","expires":1}'
  respond readyz-10.0.2.5 ok
  master_boot 2>/dev/null
  no_call 'put-parameter .*encryption-key'
  [ "$(line_of 'get-parameter .*--name /tripod/t1/pki/encryption-key')" -lt "$(line_of '^kubeadm join')" ]
  [ -s "$TRIPOD_ROOT/etc/kubernetes/encryption/config.yaml" ]
  no_secret_in_calls
}

# --- pinned inputs -------------------------------------------------------------------------------------

@test "the Kubernetes package key must have the pinned fingerprint: another key stops the boot before apt trusts it" {
  install_packages master 2>/dev/null
  [ -s "$TRIPOD_ROOT/etc/apt/keyrings/kubernetes.gpg" ]
  calls | grep -qx 'apt-get install -y -q --allow-downgrades containerd=2.2.1-0ubuntu1~24.04.3'
  rm -rf "$TRIPOD_ROOT/etc/apt"
  cp "$HERE/stubs/other-key.asc" "$RESP/release-key"
  run install_packages master
  [ "$status" -ne 0 ]
  [[ "$output" == *"Release.key is not the pinned key D9C7263ACD20689C96C5C1EA5AFFF2DE82E2A52C (has: 81704C9E5DA66A3F7F3F946943409AFCB0A74845 )"* ]]
  [ ! -e "$TRIPOD_ROOT/etc/apt/keyrings/kubernetes.gpg" ]
  [ ! -e "$TRIPOD_ROOT/etc/apt/sources.list.d/kubernetes.list" ]
  # two keys in one file (the pinned one among them) are refused too
  cat "$HERE/stubs/release-key.asc" "$HERE/stubs/other-key.asc" >"$RESP/release-key"
  run install_packages master
  [ "$status" -ne 0 ]
}

@test "containerd is pinned to the release line in versions.ts (its newest build, never 2.20 for 2.2), and a line the archive lacks stops the boot" {
  install_packages master 2>/dev/null
  calls | grep -qx 'apt-get install -y -q --allow-downgrades containerd=2.2.1-0ubuntu1~24.04.3'
  rm -rf "$TRIPOD_ROOT/etc/apt"
  TRIPOD_CONTAINERD_VERSION=2.9.9
  run install_packages master
  [ "$status" -ne 0 ]
  [[ "$output" == *"containerd 2.9.9 is not in the archive"* ]]
}

@test "the AWS CLI is installed from its pinned release, checked against the pinned SHA-256; a mismatch installs nothing" {
  install_packages master 2>/dev/null
  no_call 'aws/install'
  no_call 'snap install'
  export AWS_STUB_VERSION=2.9.0
  install_aws_cli 2>/dev/null
  calls | grep -qE '^curl .* https://awscli.invalid/awscli-exe-linux-(x86_64|aarch64)-2.22.0.zip'
  calls | grep -q "^aws/install --update -i $TRIPOD_ROOT/usr/local/aws-cli -b $TRIPOD_ROOT/usr/local/bin"
  [ ! -e "$TRIPOD_STATE/awscli-download" ]
  : >"$CALLS"
  fake_aws_cli_release 0000000000000000000000000000000000000000000000000000000000000000
  run install_aws_cli
  [ "$status" -ne 0 ]
  [[ "$output" == *"does not match its pinned SHA-256 0000000000000000000000000000000000000000000000000000000000000000: AWS CLI NOT installed"* ]]
  no_call 'aws/install'
}

# --- restore: the snapshot holds every Secret ---------------------------------------------------------

@test "a restored snapshot is downloaded 0600 and removed when the restore fails" {
  restore_case
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  wait_for_join_params 2>/dev/null
  stub etcdutl 'exit 1'
  umask 022
  run run_etcd_phase
  [ "$status" -ne 0 ]
  [[ "$output" == *"etcdutl snapshot restore of s3://"*"failed"* ]]
  calls | grep -qx "file-mode $TRIPOD_STATE/restore.db 600"
  [ ! -e "$TRIPOD_STATE/restore.db" ]
  no_call 'systemctl restart etcd'
}

# --- day one: pod network and the cluster-admin group ----------------------------------------------

# kubectl that keeps a copy of every file it applies ($BATS_TEST_TMPDIR/applied/N-NAME), then answers
# as the kubectl stand-in does.
keep_applied() {
  mkdir -p "$BATS_TEST_TMPDIR/applied"
  # shellcheck disable=SC2016 # expands in the stand-in
  stub kubectl 'prev=""; for a in "$@"; do if [ "$prev" = -f ] && [ -f "$a" ]; then
      cp "$a" "$BATS_TEST_TMPDIR/applied/$(ls "$BATS_TEST_TMPDIR/applied" | wc -l)-$(basename "$a")"; fi; prev=$a; done
'"$(cat "$HERE/stubs/kubectl.bash")"
}

@test "the seed applies the pinned pod network once the API serves, exactly once, with network.pods in place of the manifest's range" {
  keep_applied
  export TRIPOD_POD_SUBNET=172.20.0.0/16
  make_ca "$TRIPOD_PKI/etcd"
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  respond readyz fail fail ok
  master_boot 2>/dev/null
  calls | grep -qx "curl -fsSL -o $TRIPOD_STATE/day-one/cni.yaml.download https://cni.invalid/v0.28.9/kube-flannel.yml"
  [ "$(calls | grep -c "apply -f $TRIPOD_STATE/day-one/cni.yaml\$")" = 1 ]
  [ "$(line_of "apply -f $TRIPOD_STATE/day-one/cni.yaml\$")" -gt "$(line_of '^readyz -> ok')" ]
  applied=$(ls "$BATS_TEST_TMPDIR"/applied/*-cni.yaml)
  grep -qx '      "Network": "172.20.0.0/16",' "$applied"
  refute grep -q '10.244.0.0/16' "$applied"
  [ ! -e "$TRIPOD_STATE/day-one" ]
  # a second run (the boot run again on the same node) applies nothing more
  : >"$CALLS"
  install_day_one 2>/dev/null
  no_call 'kubectl'
  no_call 'kube-flannel.yml'
}

@test "the seed binds the group of tripod kubeconfig's certificates to cluster-admin, before the pod network" {
  keep_applied
  install_day_one 2>/dev/null
  rbac=$(ls "$BATS_TEST_TMPDIR"/applied/*-admin-rbac.yaml)
  [ "$(node -e 'const y = require("yaml"); const d = y.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(JSON.stringify([d.kind, d.roleRef.kind, d.roleRef.name, d.subjects]))' "$rbac")" = \
    '["ClusterRoleBinding","ClusterRole","cluster-admin",[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"tripod:cluster-admins"}]]' ]
  [ "$(line_of 'apply -f .*/admin-rbac.yaml$')" -lt "$(line_of 'apply -f .*/cni.yaml$')" ]
}

@test "a joining master applies no pod network and no binding" {
  make_ca "$TRIPOD_PKI/etcd"
  ssm_set /tripod/t1/join/i-0abc "$(join_doc existing 'i-0seed=https://10.0.2.5:2380,i-0abc=https://10.0.1.5:2380')"
  ensure_cluster_cas 2>/dev/null
  ssm_set /tripod/t1/worker-join '{"token":"abcdef.0123456789abcdef","caCertHash":"sha256:00","expires":1}'
  respond readyz-10.0.2.5 ok
  master_boot 2>/dev/null
  calls | grep -q '^kubeadm join'
  no_call 'kube-flannel.yml'
  no_call 'apply -f .*(cni|admin-rbac).yaml'
}

@test "with network.cni none the seed applies no pod network (users bring their own), and still binds the admin group" {
  export TRIPOD_CNI=none
  install_day_one 2>/dev/null
  no_call 'kube-flannel.yml'
  no_call 'apply -f .*cni.yaml'
  calls | grep -q 'apply -f .*/admin-rbac.yaml$'
}

@test "a pod network manifest that does not match its pinned SHA-256 stops the boot and is not applied" {
  fake_cni_manifest 0000000000000000000000000000000000000000000000000000000000000000
  run install_day_one
  [ "$status" -ne 0 ]
  [[ "$output" == *"kube-flannel.yml does not match its pinned SHA-256 0000000000000000000000000000000000000000000000000000000000000000: NOT applied"* ]]
  no_call 'apply -f .*cni.yaml'
  [ ! -e "$TRIPOD_STATE/day-one/cni.yaml.download" ]
  [ ! -e "$TRIPOD_STATE/day-one-applied" ]
}

@test "a failing manifest download is retried, then stops the boot with the URL" {
  rm "$RESP/cni-manifest"
  run install_day_one
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot download https://cni.invalid/v0.28.9/kube-flannel.yml"* ]]
  [ "$(calls | grep -c 'kube-flannel.yml')" -gt 1 ]
}

# --- warm pool (issue 18): prepare while warming up, join when the group takes the instance ---------

@test "a warm pool instance (target Warmed:Stopped) prepares: packages, images, the join unit, then completes its own warm-up hook; no etcd, no join" {
  respond lifecycle Warmed:Stopped Warmed:Stopped InService
  env_file="$BATS_TEST_TMPDIR/node.env"
  export TRIPOD_BOOT_FAILED_PREFIX=/tripod/t1/boot-failed/ TRIPOD_JOIN_TIMEOUT=0
  for v in "${!TRIPOD_@}"; do printf "%s='%s'\n" "$v" "${!v}"; done >"$env_file"
  # the join that follows has no parameters (TRIPOD_JOIN_TIMEOUT=0): the boot stops after the prepare
  TRIPOD_ENV_FILE="$env_file" run "$SCRIPTS/tripod-node.sh" boot
  [ "$(line_of '^apt-get install')" -gt 0 ]
  pull=$(line_of '^kubeadm config images pull --kubernetes-version v1.32.4$')
  [ "$pull" -gt "$(line_of '^apt-get install')" ]
  unit="$TRIPOD_ROOT/etc/systemd/system/tripod-join.service"
  grep -qx "ExecStart=/bin/sh -c '/opt/tripod/tripod-node boot >>/var/log/tripod-bootstrap.log 2>&1'" "$unit"
  grep -qx 'WantedBy=multi-user.target' "$unit"
  enable=$(line_of '^systemctl enable tripod-join.service$')
  hook=$(line_of '^aws autoscaling complete-lifecycle-action .*--lifecycle-hook-name tripod-master-launching --instance-id i-0abc --lifecycle-action-result CONTINUE')
  [ "$pull" -lt "$enable" ]
  [ "$enable" -lt "$hook" ]
  # it asked for its join parameters only after the group took it (InService)
  taken=$(line_of 'lifecycle -> InService')
  [ "$taken" -gt "$hook" ]
  [ -f "$TRIPOD_ROOT/var/lib/tripod/prepared" ]
  # and disabled the join unit before joining: a later reboot of this member runs no boot again (a
  # Running pool's instance joins in this same run, the unit never ran)
  disable=$(line_of '^systemctl disable tripod-join.service$')
  [ "$disable" -gt "$taken" ]
  [ "$disable" -lt "$(line_of "^aws ssm get-parameter .*--name /tripod/t1/join/i-0abc ")" ]
}

@test "a prepared master started again (the join unit) installs nothing, disables the unit and joins" {
  mkdir -p "$TRIPOD_ROOT/var/lib/tripod"
  : >"$TRIPOD_ROOT/var/lib/tripod/prepared"
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  master_boot 2>/dev/null
  no_call '^apt-get'
  no_call '^kubeadm config images pull'
  no_call 'complete-lifecycle-action'
  [ "$(line_of '^systemctl disable tripod-join.service$')" -lt "$(line_of '^systemctl .*etcd')" ]
  [ "$(line_of '^kubeadm init')" -gt 0 ]
}

@test "a prepared master rebooted while still in the pool (Warmed:Running) waits to be taken before it joins" {
  mkdir -p "$TRIPOD_ROOT/var/lib/tripod"
  : >"$TRIPOD_ROOT/var/lib/tripod/prepared"
  respond lifecycle Warmed:Running Warmed:Running InService
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  master_boot 2>/dev/null
  no_call '^apt-get'
  [ "$(line_of 'lifecycle -> InService')" -gt 0 ]
  [ "$(line_of 'lifecycle -> InService')" -lt "$(line_of 'join/i-0abc')" ]
  [ "$(line_of '^kubeadm init')" -gt 0 ]
}

@test "a master launched into its group (target InService) installs and joins as before, with no join unit" {
  ssm_set /tripod/t1/join/i-0abc "$(join_doc new 'i-0abc=https://10.0.1.5:2380')"
  master_boot 2>/dev/null
  [ "$(line_of '^apt-get install')" -gt 0 ]
  no_call 'tripod-join'
  no_call 'complete-lifecycle-action'
  [ ! -f "$TRIPOD_ROOT/etc/systemd/system/tripod-join.service" ]
}

@test "the prepare heartbeats its warm-up hook while it installs (its timeout may be 30 s), stops once prepared, and retries completing it" {
  respond lifecycle Warmed:Running InService
  env_file="$BATS_TEST_TMPDIR/node.env"
  export TRIPOD_BOOT_FAILED_PREFIX=/tripod/t1/boot-failed/ TRIPOD_JOIN_TIMEOUT=0 TRIPOD_LIFECYCLE_HEARTBEAT_EVERY=0.1
  # the images pull (the prepare's last step) lasts until the hook had two heartbeats (a deadline, not a count of tries)
  stub kubeadm 'end=$((SECONDS + 20)); until [ "$(grep -c "^aws autoscaling record-lifecycle-action-heartbeat " "$CALLS")" -ge 2 ]; do
  [ "$SECONDS" -lt "$end" ] || { echo "no heartbeat during the prepare" >&2 && exit 1; }; sleep 0.1; done'
  # Auto Scaling refuses the first two completions (throttled)
  stub aws 'if [ "$1 $2" = "autoscaling complete-lifecycle-action" ] && [ "$(grep -c "^aws autoscaling complete-lifecycle-action " "$CALLS")" -le 2 ]; then
  echo "An error occurred (Throttling) when calling the CompleteLifecycleAction operation: Rate exceeded" >&2; exit 254; fi
'"$(cat "$HERE/stubs/aws.bash")"
  for v in "${!TRIPOD_@}"; do printf "%s='%s'\n" "$v" "${!v}"; done >"$env_file"
  TRIPOD_ENV_FILE="$env_file" run "$SCRIPTS/tripod-node.sh" boot
  calls | grep -qx 'aws autoscaling record-lifecycle-action-heartbeat --region eu-west-1 --auto-scaling-group-name t1-masters --lifecycle-hook-name tripod-master-launching --instance-id i-0abc'
  [ "$(calls | grep -c '^aws autoscaling record-lifecycle-action-heartbeat ')" -ge 2 ]
  # completed on the third try; no heartbeat once the prepare is done
  [ "$(calls | grep -c '^aws autoscaling complete-lifecycle-action .*--lifecycle-action-result CONTINUE$')" = 3 ]
  last_beat=$(calls | grep -n '^aws autoscaling record-lifecycle-action-heartbeat ' | tail -1 | cut -d: -f1)
  [ "$last_beat" -lt "$(line_of '^aws autoscaling complete-lifecycle-action ')" ]
  [ "$(line_of 'lifecycle -> InService')" -gt "$(line_of '^aws autoscaling complete-lifecycle-action ')" ]
}

@test "a prepare whose warm-up hook cannot be completed stops the boot (its boot-failed record: the reconciler abandons it), heartbeats stop" {
  respond lifecycle Warmed:Stopped InService
  export TRIPOD_BOOT_FAILED_PREFIX=/tripod/t1/boot-failed/ TRIPOD_LIFECYCLE_HEARTBEAT_EVERY=0.1 TRIPOD_JOIN_TIMEOUT=0
  stub aws 'if [ "$1 $2" = "autoscaling complete-lifecycle-action" ]; then echo "An error occurred (ValidationError)" >&2; exit 254; fi
'"$(cat "$HERE/stubs/aws.bash")"
  run master_boot
  [ "$status" -ne 0 ]
  [[ "$output" == *"could not complete the warm-up hook tripod-master-launching"* ]]
  [ "$(calls | grep -c '^aws autoscaling complete-lifecycle-action ')" -gt 1 ]
  no_call 'lifecycle -> InService'
  # the heartbeat stopped with the prepare: nothing more is recorded
  n=$(wc -l <"$CALLS")
  sleep 0.5
  [ "$(wc -l <"$CALLS")" = "$n" ]
}

@test "a slow IMDS: the target lifecycle state is asked for longer (a pool instance never takes the normal boot path), and an IMDS that never answers stops the boot" {
  # six failures take the old 30 s of backoff; a warm pool instance must still prepare
  respond lifecycle fail fail fail fail fail fail Warmed:Running InService
  export TRIPOD_BOOT_FAILED_PREFIX=/tripod/t1/boot-failed/ TRIPOD_JOIN_TIMEOUT=0
  run master_boot
  [ "$(line_of '^kubeadm config images pull ')" -gt 0 ]
  [ "$(line_of '^systemctl enable tripod-join.service$')" -gt 0 ]
  : >"$CALLS"
  respond lifecycle fail
  run master_boot
  [ "$status" -ne 0 ]
  [[ "$output" == *"no target lifecycle state from IMDS"* ]]
  no_call '^apt-get'
  no_call '^kubeadm'
}
