# The kubeadm stand-in: `init` and `join` first check their --config file against the model of
# kubeadm's configuration (kubeadm-config.mjs: refuses what kubeadm would, and a little more), then
# write the API server manifest with the cluster configuration's etcd endpoint, as kubeadm does.
# `init` without --skip-token-print prints its bootstrap token (into the boot log), as kubeadm does.
case "$1" in
  token) [ "$2" = create ] && echo abcdef.0123456789abcdef ;;
  init | join)
    config=''
    args=("$@")
    for ((i = 0; i < ${#args[@]}; i++)); do
      [ "${args[i]}" = --config ] && config=${args[i + 1]}
    done
    [ -n "$config" ] || {
      echo "kubeadm stand-in: $1 without --config" >&2
      exit 1
    }
    # kubeadm refuses flags that the configuration file would set (isAllowedFlag: a few, and skip-*)
    bad=()
    for a in "${args[@]:1}"; do
      case "$a" in
        --config | --ignore-preflight-errors* | --dry-run | --kubeconfig* | --node-name* | --upload-certs | --print-join-command | --rootfs* | --v=* | --log-file* | --skip-*) ;;
        --*) bad+=("${a#--}") ;;
      esac
    done
    [ "${#bad[@]}" = 0 ] || {
      echo "kubeadm stand-in: can not mix '--config' with arguments [${bad[*]}]" >&2
      exit 1
    }
    node "$TRIPOD_TEST_STUBS/kubeadm-config.mjs" "$1" "$config" "${TRIPOD_K8S_VERSION:?}" || exit 1
    case " $* " in
      *" --skip-token-print "*) ;;
      *) [ "$1" != init ] || echo "kubeadm join api:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00" ;;
    esac
    mkdir -p "$TRIPOD_ROOT/etc/kubernetes/manifests"
    printf "    - --etcd-servers=https://10.0.9.9:2379\n    - --secure-port=6443\n" >"$TRIPOD_ROOT/etc/kubernetes/manifests/kube-apiserver.yaml"
    ;;
esac
exit 0
