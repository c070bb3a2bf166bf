#!/usr/bin/env bash
# Deploy a kustomization with one image into its namespace and wait for it (the pipelines'
# deploy-test and promote steps): scripts/ci-deploy.sh deploy/k8s-test desk-test registry/desk@sha256:...
# The migrate Job runs first (a Job's template cannot change: the old one is deleted), then the rollout.
set -euo pipefail
kustomization="$1" namespace="$2" image="$3"
overlay="$(mktemp -d "$(pwd)/.ci-deploy.XXXXXX")"
trap 'rm -rf "$overlay"' EXIT
cat >"$overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../$kustomization]
images:
  - name: wechat-ai-desk
    newName: ${image%@*}
    digest: ${image#*@}
YAML
kubectl -n "$namespace" delete job migrate --ignore-not-found --wait=true
kubectl apply -k "$overlay"
kubectl -n "$namespace" wait --for=condition=complete job/migrate --timeout=600s
for deployment in web worker llm beat; do
  kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout=600s
done
if kubectl -n "$namespace" get deployment embedded-llm >/dev/null 2>&1; then
  kubectl -n "$namespace" rollout status deployment/embedded-llm --timeout=900s
fi
