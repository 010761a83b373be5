#!/usr/bin/env bash
# Download KubeRay's RayCluster and RayJob CRDs (the release the manifests in cluster/kubernetes
# target) into tests/data/kuberay/ (git-ignored), so that tests/unit/cluster/test_kuberay_crd.py
# validates the manifests against the full schemas, not only tests/data/kuberay-v1.5.1.schema.json.
#   scripts/fetch_kuberay_crds.sh            # v1.5.1
#   scripts/fetch_kuberay_crds.sh v1.6.2     # another release
set -euo pipefail
version="${1:-v1.5.1}"
dest="$(cd "$(dirname "$0")/.." && pwd)/tests/data/kuberay"
mkdir -p "$dest"
for crd in rayclusters rayjobs; do
  curl -fsSL -o "$dest/ray.io_${crd}.yaml" \
    "https://raw.githubusercontent.com/ray-project/kuberay/${version}/ray-operator/config/crd/bases/ray.io_${crd}.yaml"
done
echo "$version" > "$dest/VERSION"
echo "KubeRay $version CRDs in $dest"
