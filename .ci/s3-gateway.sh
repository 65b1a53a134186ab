#!/usr/bin/env bash
# Starts Versity's S3 gateway on 127.0.0.1:7070 over a temporary directory,
# creates a bucket, and prints the export lines that point Atrium's S3 tests
# at it. Use it as:
#
#   eval "$(.ci/s3-gateway.sh)"
#   go test -race ./...
#
# The gateway keeps running in the background; its pid is in
# $ATRIUM_TEST_S3_PID (kill it when done) and its log next to its data.
set -euo pipefail

export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
version="${VERSITYGW_VERSION:-v1.8.0}"
port="${ATRIUM_TEST_S3_PORT:-7070}"
key=atrium-ci-key
secret=atrium-ci-secret
bucket=atrium-ci

if ! command -v versitygw >/dev/null; then
	go install "github.com/versity/versitygw/cmd/versitygw@${version}" >&2
fi

dir="$(mktemp -d /tmp/versitygw.XXXXXX)"
mkdir -p "$dir/data"
nohup versitygw --port "127.0.0.1:${port}" --access "$key" --secret "$secret" \
	posix "$dir/data" >"$dir/versitygw.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null' ERR

for _ in $(seq 1 100); do
	if curl -s -o /dev/null "http://127.0.0.1:${port}/"; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "versitygw exited; its log:" >&2
		cat "$dir/versitygw.log" >&2
		exit 1
	fi
	sleep 0.1
done

# CreateBucket, signed by curl itself (no AWS CLI needed).
status="$(curl -s -o "$dir/create-bucket.out" -w '%{http_code}' -X PUT \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	--aws-sigv4 "aws:amz:us-east-1:s3" --user "${key}:${secret}" \
	"http://127.0.0.1:${port}/${bucket}")"
if [ "$status" != 200 ]; then
	echo "creating bucket ${bucket} failed with HTTP ${status}:" >&2
	cat "$dir/create-bucket.out" >&2
	kill "$pid"
	exit 1
fi

echo "export ATRIUM_TEST_S3_ENDPOINT=http://127.0.0.1:${port}"
echo "export ATRIUM_TEST_S3_ACCESS_KEY=${key}"
echo "export ATRIUM_TEST_S3_SECRET_KEY=${secret}"
echo "export ATRIUM_TEST_S3_BUCKET=${bucket}"
echo "export ATRIUM_TEST_S3_PID=${pid}"
