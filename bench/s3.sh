# Sourced by bench/run.sh --s3: starts the pinned MinIO of the tests on a
# free loopback port and sets S3_URL and the AWS credentials for lethe and
# restic. The server stops when the bench script exits.

start_s3() {
	local dir=$1 bin port
	bin=$(bash backends/s3test/install.sh)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$dir/s3"
	export AWS_ACCESS_KEY_ID=lethebench AWS_SECRET_ACCESS_KEY=lethebench-secret AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
	MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=on \
		"$bin" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$((port + 1))" "$dir/s3/data" >"$dir/s3/log" 2>&1 &
	S3_PID=$!
	trap 'kill $S3_PID 2>/dev/null || true' EXIT
	S3_URL="http://127.0.0.1:$port"
	for _ in $(seq 100); do
		curl -fs "$S3_URL/minio/health/ready" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: MinIO did not start:" >&2
	cat "$dir/s3/log" >&2
	exit 1
}
