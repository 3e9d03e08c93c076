#!/usr/bin/env bash
# Three regions on kind, for users with Docker: what test/kube/three-regions.test.ts does against
# local control planes, on three kind clusters. It cannot run on the development machine (no
# container engine, no registry), so it is not part of `npm test`; the test is what proves the flow.
#
# Needs: docker, kind, kubectl, helm, openssl, node 24, and the image built from the Dockerfile
# with SoftHSM (docker build --build-arg SOFTHSM=1 -t vilna-mpc:dev .). Kind clusters share the
# docker network "kind", so each party's endpoint is its node's address and a NodePort.
# Not covered here and left to the user: the party's SoftHSM token must exist with the PIN of its
# Secret before the node starts (softhsm2-util --init-token in the image or an init container);
# with a real HSM, the module and token come from the vendor. Never run this against real money.
set -euo pipefail
cd "$(dirname "$0")/.."
REGIONS=(eu-west us-east ap-south)
IMAGE=${IMAGE:-vilna-mpc:dev}
WORK=${WORK:-$(mktemp -d)}
NS=vilna-system
echo "working in $WORK" >&2

# One CA for every region's parties and the operator (mutual TLS between regions).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=vilna-kind-ca \
  -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
issue() { # name san
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -keyout "$WORK/$1.key" -out "$WORK/$1.csr" 2>/dev/null
  openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial -days 30 \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$2") -out "$WORK/$1.crt" 2>/dev/null
}

# Approver keys (development: on disk; in production each approver keeps theirs).
for a in alice bob carol; do npx vilna-mpc approver keygen --out "$WORK/$a.pem" --json | node -e 'process.stdin.on("data",d=>console.log(JSON.parse(d).approver))' > "$WORK/$a.pub"; done
KEYS=$(cat "$WORK"/*.pub | sort | sed 's/^/    - /')

for r in "${REGIONS[@]}"; do
  kind create cluster --name "$r" >/dev/null
  kind load docker-image "$IMAGE" --name "$r" >/dev/null
  ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$r-control-plane")
  issue "party-$r" "IP:$ip"
  kubectl --context "kind-$r" create namespace $NS
  kubectl --context "kind-$r" -n $NS create secret generic "party-$r-pin" --from-literal=pin=1234
  kubectl --context "kind-$r" -n $NS create secret generic "party-$r-tls" --from-file=ca.crt="$WORK/ca.crt" --from-file=tls.crt="$WORK/party-$r.crt" --from-file=tls.key="$WORK/party-$r.key"
  issue "operator-$r" "DNS:vilna-operator.$NS.svc"
  kubectl --context "kind-$r" -n $NS create secret generic vilna-operator-peer-tls --from-file=ca.crt="$WORK/ca.crt" --from-file=tls.crt="$WORK/operator-$r.crt" --from-file=tls.key="$WORK/operator-$r.key"
  cat > "$WORK/values-$r.yaml" <<VALUES
image: { repository: ${IMAGE%%:*}, tag: "${IMAGE##*:}", pullPolicy: Never }
region: $r
approverSet:
  keys:
$KEYS
  quorum: 2
parties:
  - name: party-$r
    hsm: { module: /usr/lib/softhsm/libsofthsm2.so, tokenLabel: party-$r, pinSecret: { name: party-$r-pin } }
    tls: { secretName: party-$r-tls }
    endpoint: https://$ip:30443
VALUES
  helm --kube-context "kind-$r" install vilna charts/vilna-mpc -n $NS -f "$WORK/values-$r.yaml"
  helm --kube-context "kind-$r" upgrade vilna charts/vilna-mpc -n $NS -f "$WORK/values-$r.yaml"
  # Expose the peer port to the other clusters.
  kubectl --context "kind-$r" -n $NS patch service "party-$r" -p '{"spec":{"type":"NodePort","ports":[{"name":"peer","port":8443,"nodePort":30443}]}}'
done

# The coordinating region (eu-west) reads the others' MpcParty objects with their operators' tokens.
for r in us-east ap-south; do
  token=$(kubectl --context "kind-$r" -n $NS create token vilna-operator --duration 24h)
  server=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$r-control-plane")
  ca=$(kubectl --context "kind-$r" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  kubectl --context kind-eu-west -n $NS create secret generic "cluster-$r" --from-literal=kubeconfig="$(cat <<KC
apiVersion: v1
kind: Config
clusters: [{ name: $r, cluster: { server: "https://$server:6443", certificate-authority-data: $ca } }]
users: [{ name: operator, user: { token: $token } }]
contexts: [{ name: $r, context: { cluster: $r, user: operator } }]
current-context: $r
KC
)"
  kubectl --context kind-eu-west -n $NS label secret "cluster-$r" mpc.vilna.io/cluster="$r"
done

kubectl --context kind-eu-west apply -f - <<'CEREMONY'
apiVersion: mpc.vilna.io/v1alpha1
kind: MpcCeremony
metadata: { name: treasury, namespace: vilna-system }
spec:
  keyName: treasury-1
  threshold: 2
  minRegions: 3
  parties:
    - { cluster: local, namespace: vilna-system, name: party-eu-west }
    - { cluster: us-east, namespace: vilna-system, name: party-us-east }
    - { cluster: ap-south, namespace: vilna-system, name: party-ap-south }
  policy: { allowedPaths: ["m", "m/0/*"] }
CEREMONY

until kubectl --context kind-eu-west -n $NS get mpcceremony treasury -o jsonpath='{.status.planHash}' | grep -q .; do sleep 2; done
kubectl --context kind-eu-west -n $NS get mpcceremony treasury -o jsonpath='{.status.plan}' > "$WORK/plan.json"
for a in alice bob; do
  npx vilna-mpc approve "$WORK/plan.json" --key "$WORK/$a.pem" --out "$WORK/approval-$a.json"
  printf 'apiVersion: mpc.vilna.io/v1alpha1\nkind: MpcApproval\nmetadata: { name: treasury-%s, namespace: %s }\nspec: %s\n' "$a" "$NS" "$(cat "$WORK/approval-$a.json")" | kubectl --context kind-eu-west create -f -
done
kubectl --context kind-eu-west -n $NS wait mpcceremony/treasury --for=jsonpath='{.status.phase}'=Ready --timeout=30m
kubectl --context kind-eu-west -n $NS get mpcceremony treasury
