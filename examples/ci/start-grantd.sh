#!/usr/bin/env bash
# Starts grantd in the background for a CI job and returns once it answers /healthz: the step
# of examples/ci/github-actions.yml, runnable anywhere. Later steps get GRANTD_URL,
# GRANTD_CONTROL_TOKEN and GRANTD_PID through the file $GITHUB_ENV names (as GitHub Actions
# passes environment variables between steps); its output and log go to $RUNNER_TEMP.
# scripts/recipes runs it for real, and checks that the workflow's step is this text.
set -euo pipefail

# --- step (the `run:` of github-actions.yml's "Start grantd", line for line) ---
grantd serve --ephemeral --test-controls --listen 127.0.0.1:0 --seed examples/test-seed.toml \
  > "$RUNNER_TEMP/grantd.out" 2> "$RUNNER_TEMP/grantd.log" &
echo "GRANTD_PID=$!" >> "$GITHUB_ENV"
# The address is printed once the port is bound: wait for that line (30 s at most).
for _ in $(seq 300); do
  grep -q '^grantd listening on ' "$RUNNER_TEMP/grantd.out" && break
  sleep 0.1
done
address=$(sed -n 's/^grantd listening on //p' "$RUNNER_TEMP/grantd.out")
if [ -z "$address" ]; then cat "$RUNNER_TEMP/grantd.log"; exit 1; fi
curl --fail --silent --show-error --retry 10 --retry-connrefused -o /dev/null "http://$address/healthz"
echo "GRANTD_URL=http://$address" >> "$GITHUB_ENV"
echo "GRANTD_CONTROL_TOKEN=$(sed -n 's/^grantd control token: //p' "$RUNNER_TEMP/grantd.out")" >> "$GITHUB_ENV"
# --- end of step ---
