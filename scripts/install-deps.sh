#!/usr/bin/env bash
# Installs what mbmd needs on Debian 12: LibTorch (CPU), OpenBLAS (4x faster fully connected layers
# than the reference BLAS, docs/design.md, "Build and runtime"), image and DICOM libraries,
# GoogleTest, ccache, and Debian's PyTorch and torchvision, which only the reference generators and
# benchmarks use.
set -euo pipefail
packages=(build-essential cmake ccache git libtorch-dev libopenblas0-pthread nlohmann-json3-dev
  libpng-dev libgdcm-dev libgdcm-tools libdcmtk-dev dcmtk dicom3tools libgloo-dev libgtest-dev
  googletest python3-torch
  python3-torchvision)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
