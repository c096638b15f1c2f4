#!/usr/bin/env bash
# Sextant on a local minikube: builds the image inside minikube's Docker (nothing is pushed or
# pulled), applies deploy/kubernetes/overlays/minikube (agent DaemonSet + in-cluster gateway
# storing what it receives), creates the token Secret, and prints how to look at the data.
#
#   minikube start            # any driver; Docker or containerd runtime
#   deploy/minikube/up.sh     # again after a code change: rebuilds and restarts the pods
#
# Needs: minikube, kubectl, docker (the CLI; the daemon used is minikube's). Environment:
#   SEXTANT_MINIKUBE_PROFILE  minikube profile (default: minikube's current one)
#   SEXTANT_NODE_IMAGE        base image with Node 24 for the Dockerfile (its NODE_IMAGE arg)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
overlay="$repo/deploy/kubernetes/overlays/minikube"
ns=sextant
profile_args=()
if [[ -n "${SEXTANT_MINIKUBE_PROFILE:-}" ]]; then profile_args=(-p "$SEXTANT_MINIKUBE_PROFILE"); fi

for tool in minikube kubectl docker; do
  command -v "$tool" >/dev/null || { echo "up.sh: $tool is not installed" >&2; exit 1; }
done
minikube "${profile_args[@]}" status >/dev/null || { echo "up.sh: minikube is not running (minikube start)" >&2; exit 1; }

echo "==> building sextant:dev inside minikube's Docker" >&2
# The docker CLI now talks to minikube's engine: the image lands where the kubelet finds it, which
# is why the overlay sets imagePullPolicy: Never.
eval "$(minikube "${profile_args[@]}" docker-env --shell bash)"
build_args=()
if [[ -n "${SEXTANT_NODE_IMAGE:-}" ]]; then build_args=(--build-arg "NODE_IMAGE=$SEXTANT_NODE_IMAGE"); fi
docker build "${build_args[@]}" -t sextant:dev "$repo"

echo "==> applying $overlay" >&2
kubectl apply -k "$overlay"

# The token the agents send and the gateway accepts. Kept across runs; a fresh random one the
# first time. (Both read it from the same Secret; its value never appears in this output.)
if ! kubectl -n "$ns" get secret sextant-token >/dev/null 2>&1; then
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  kubectl -n "$ns" create secret generic sextant-token --from-literal=token="$token" >/dev/null
  unset token
  echo "==> created secret $ns/sextant-token" >&2
fi

# minikube's default runtime is Docker: its socket is root:docker 0660, and the docker group's id
# differs between minikube images. Add it to the agent's groups so the container collector
# connects (docs/security.md, "Runtime sockets"). Nothing to do on a containerd node (group 0).
runtime=$(kubectl get nodes -o jsonpath='{.items[0].status.nodeInfo.containerRuntimeVersion}')
if [[ "$runtime" == docker://* ]]; then
  gid=$(minikube "${profile_args[@]}" ssh -- stat -c %g /var/run/docker.sock | tr -d '\r')
  if [[ "$gid" =~ ^[0-9]+$ ]]; then
    kubectl -n "$ns" patch daemonset sextant-agent --type=json \
      -p "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/securityContext/supplementalGroups\",\"value\":[0,$gid]}]" >/dev/null
    echo "==> agent joins group $gid (the node's docker.sock)" >&2
  fi
fi

# A rebuilt image has the same tag: restart so the pods run it.
kubectl -n "$ns" rollout restart daemonset/sextant-agent deployment/sextant-gateway >/dev/null
kubectl -n "$ns" rollout status deployment/sextant-gateway --timeout=180s
kubectl -n "$ns" rollout status daemonset/sextant-agent --timeout=180s

cat <<EOT

Sextant is running in namespace $ns (mode fullstack, 5 s interval).

  Pods and their state:      kubectl -n $ns get pods -o wide
  The agent's own log:       kubectl -n $ns logs daemonset/sextant-agent -f
  Effective config:          kubectl -n $ns exec daemonset/sextant-agent -- node /app/dist/cli/sextant.js check
  Agent metrics:             kubectl -n $ns port-forward daemonset/sextant-agent 9464 &
                             curl -s localhost:9464/metrics | grep -E '^sextant_(export|source)'
                             curl -s localhost:9464/readyz
  What the gateway stored:   kubectl -n $ns exec deploy/sextant-gateway -- ls -l /var/lib/sextant-gateway
                             kubectl -n $ns exec deploy/sextant-gateway -- sh -c 'tail -n 3 /var/lib/sextant-gateway/*'
  Send to a real backend:    set SEXTANT_ENDPOINT in deploy/kubernetes/overlays/minikube (config-dev.yaml)
                             or SEXTANT_GATEWAY_UPSTREAM in the gateway ConfigMap, then run this again.
  Remove everything:         kubectl delete -k $overlay
EOT
