# The aws stand-in: SSM get/put over files in $SSM; everything else succeeds silently.
name='' value='' overwrite=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --name) name=${args[i + 1]} ;;
    --value) value=${args[i + 1]} ;;
    --overwrite) overwrite=1 ;;
  esac
done
key=$(tr / _ <<<"$name")
case "$1 $2" in
  "ssm get-parameter")
    polls=$(($(cat "$SSM/$key.polls" 2>/dev/null || echo 0) + 1))
    echo "$polls" >"$SSM/$key.polls"
    [ -f "$SSM/$key" ] || exit 255
    [ "$polls" -gt "$(cat "$SSM/$key.after" 2>/dev/null || echo 0)" ] || exit 255
    cat "$SSM/$key"
    ;;
  "ssm put-parameter")
    if [ -f "$SSM/$key" ] && [ "$overwrite" = 0 ]; then
      echo "ParameterAlreadyExists" >&2
      exit 254
    fi
    printf '%s' "$value" >"$SSM/$key"
    ;;
  "elbv2 describe-load-balancers") echo internal-t1-api-123.elb.eu-west-1.amazonaws.com ;;
esac
exit 0
