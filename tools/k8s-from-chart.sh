#!/usr/bin/env bash
# Regenerates k8s/base (plain manifests, a kustomize base) from the Helm chart with its default values, so the two
# never drift: tests/Granary.Server.Tests/Deployment checks that k8s/base is exactly what this writes.
# Needs Go and two Debian library packages: apt-get install -y golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$bin/cache" go build -o "$bin/helm-render" ./tools/helm-render
find k8s/base -name '*.yaml' ! -name kustomization.yaml -delete
"$bin/helm-render" -managed-by kustomize -out k8s/base helm/granary
# The ServiceMonitor needs prometheus-operator's CRDs, so it lives in an overlay (k8s/monitoring, a sibling of the base:
# kustomize refuses an overlay inside its base's folder), not in the base.
"$bin/helm-render" -managed-by kustomize -f k8s/monitoring/values.yaml -out "$bin" helm/granary
cp "$bin/servicemonitor.yaml" k8s/monitoring/servicemonitor.yaml
