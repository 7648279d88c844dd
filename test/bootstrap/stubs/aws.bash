# The aws stand-in: SSM get/put over files in $SSM, S3 get-object from files in $S3 (key with / as _);
# everything else succeeds silently. With $AWS_LOG set, each call's arguments are appended to it
# (separated by \x1f, calls by \x1e) for the IAM contract (test/iam-contract.test.ts).
if [ -n "${AWS_LOG:-}" ]; then
  (IFS=$'\x1f' && printf '%s\x1e' "$*" >>"$AWS_LOG")
fi
name='' value='' overwrite=0 s3key=''
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --name) name=${args[i + 1]} ;;
    --value) value=${args[i + 1]} ;;
    --overwrite) overwrite=1 ;;
    --key) s3key=${args[i + 1]} ;;
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
  "s3api get-object")
    src="${S3:-/nonexistent}/$(tr / _ <<<"$s3key")"
    [ -f "$src" ] || exit 254
    cp "$src" "${args[${#args[@]} - 1]}"
    ;;
  "elbv2 describe-load-balancers") echo internal-t1-api-123.elb.eu-west-1.amazonaws.com ;;
esac
exit 0
