# The curl stand-in: IMDS, /readyz, etcd's member list and status answer from queues in $RESP; the
# etcd release tarball is the file fake_etcd_release made, the AWS CLI zip the one fake_aws_cli_release
# made, the package key $RESP/release-key (an OpenPGP key file), the pod network manifest the file
# fake_cni_manifest made.
next() { # next QUEUE: pops the first line (the last one repeats); fails when the answer is "fail"
  local f="$RESP/$1" line
  [ -f "$f" ] || exit 7
  line=$(head -n1 "$f")
  [ "$(wc -l <"$f")" -le 1 ] || sed -i 1d "$f"
  printf '%s\n' "$1 -> $line" >>"$CALLS"
  [ "$line" != fail ] || exit 22
  printf '%s' "$line"
}
url='' out='' prev=''
for a in "$@"; do
  case "$a" in http://* | https://*) url=$a ;; esac
  [ "$prev" != -o ] || out=$a
  prev=$a
done
case "$url" in
  */etcd-v*-linux-*.tar.gz)
    # the official etcd release (fake_etcd_release in helpers.bash), written where -o says
    [ -f "$RESP/etcd-tarball" ] || exit 22
    cp "$(cat "$RESP/etcd-tarball")" "$out"
    ;;
  */awscli-exe-linux-*.zip)
    [ -f "$RESP/awscli-zip" ] || exit 22
    cp "$(cat "$RESP/awscli-zip")" "$out"
    ;;
  */kube-flannel.yml)
    # the pinned pod network manifest (fake_cni_manifest in helpers.bash)
    [ -f "$RESP/cni-manifest" ] || exit 22
    cp "$(cat "$RESP/cni-manifest")" "$out"
    ;;
  */latest/api/token) echo token ;;
  */meta-data/instance-id) next instance-id ;;
  */meta-data/local-ipv4) next local-ipv4 ;;
  */meta-data/placement/availability-zone) next zone ;;
  */meta-data/autoscaling/target-lifecycle-state) next lifecycle ;;
  https://*/readyz)
    ip=${url#https://}
    ip=${ip%%:*}
    if [ -f "$RESP/readyz-$ip" ]; then next "readyz-$ip"; else next readyz; fi
    ;;
  */v3/maintenance/status)
    ip=${url#https://}
    next "status-${ip%%:*}"
    ;;
  */v3/cluster/member/list)
    ip=${url#https://}
    next "members-${ip%%:*}"
    ;;
  *Release.key) if [ -n "$out" ]; then cp "$RESP/release-key" "$out"; else cat "$RESP/release-key"; fi ;;
  *) exit 6 ;;
esac
