#!/bin/bash
# What the data layer needs on a machine that has no apt and no network (the GPU machine of
# docs/performance.md, "On a GPU"): Debian 12's libpng, GDCM and DCMTK with the shared libraries
# they load, and a small mini-MIAS subset to train on. bench/gpu_whole.sh uses both there.
#
#   bash bench/gpu_deps.sh [all]          here, on Debian 12: download and unpack (to test)
#   bash bench/gpu_deps.sh download       apt-get download the .debs into $DEPS_DIR/debs
#   bash bench/gpu_deps.sh unpack PREFIX  dpkg -x them into PREFIX (docs and man pages dropped,
#                                         DCMTK's CMake package made relocatable); any machine
#   bash bench/gpu_deps.sh libdir PREFIX  prints PREFIX/runtime-lib, a folder of links to the
#                                         unpacked libraries this system's ld.so cache lacks (all
#                                         of them with DEPS_LIBS=all): the LD_LIBRARY_PATH to use
#   bash bench/gpu_deps.sh data           opt-in, for a run on real films: the films with masses and their Info.txt rows into
#                                         $DATA_DIR/mini-mias-masses (about 12 MB), and
#                                         mdb001.pgm into $DATA_DIR/pgm (1 MB)
#
# Only $DEPS_DIR/debs (about 26 MB, compressed) needs to travel, and $DATA_DIR when made; both
# are ignored by git (.gitignore). ../shared/data/README.md asks that the data never be copied
# into the project: `data` makes a temporary, ignored copy for one device run only (the device
# tool carries nothing from outside the checkout); remove it after (rm -rf .gpu-data). Without
# it gpu_whole.sh trains on phantom films made there. Unpacked, the prefix is about 110 MB (ICU, which libxml2 needs, 36 MB).
# Environment: DEPS_DIR (.gpu-deps), DATA_DIR (.gpu-data), MIAS_ROOT (../shared/data/mini-mias),
# MIAS_PGM (MIAS_ROOT-pgm), DEPS_LIBS (missing | all, for libdir).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS_DIR=${DEPS_DIR:-$ROOT/.gpu-deps}
DATA_DIR=${DATA_DIR:-$ROOT/.gpu-data}
MIAS_ROOT=${MIAS_ROOT:-$ROOT/../shared/data/mini-mias}
MIAS_PGM=${MIAS_PGM:-$MIAS_ROOT-pgm}
ARCH_LIB=usr/lib/x86_64-linux-gnu

# Data layer: GDCM (DICOM), DCMTK (DICOM SR), libpng, with the libraries `ldd` lists for
# libgdcmMSFF, libdcmsr, libdcmimage and libpng16 on Debian 12, glibc and libstdc++ left out.
# libgdcm-tools: GDCM's CMake package refuses to load when its programs are missing.
# zlib1g-dev: CMake's FindPNG needs zlib.h. nlohmann-json3-dev and googletest (sources, for
# gpu_check.sh's tests): not in a Python image either, and small.
RUNTIME_PKGS=(libgdcm3.0 libcharls2 libjson-c5 libopenjp2-7 libuuid1 libexpat1 libssl3
  libdcmtk17 libxml2 libicu72 libtiff6 libjpeg62-turbo libwebp7 liblerc4 libdeflate0 libjbig0
  liblzma5 libzstd1 zlib1g libpng16-16)
DEV_PKGS=(libgdcm-dev libgdcm-tools libdcmtk-dev libpng-dev zlib1g-dev nlohmann-json3-dev
  googletest)

log() { echo "[gpu_deps] $*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}
size_of() { du -sh "$1" | cut -f1; }

# apt-get download of every package (apt's lists must be current: apt-get update).
download() {
  mkdir -p "$DEPS_DIR/debs" || fail "mkdir $DEPS_DIR/debs"
  rm -f "$DEPS_DIR"/debs/*.deb
  (cd "$DEPS_DIR/debs" && apt-get download "${RUNTIME_PKGS[@]}" "${DEV_PKGS[@]}") >&2 ||
    fail "apt-get download (run apt-get update first?)"
  log "$(find "$DEPS_DIR/debs" -name '*.deb' | wc -l) packages, $(size_of "$DEPS_DIR/debs")" \
    "in $DEPS_DIR/debs"
}

# DCMTK's exported targets name libz, libxml2, libtiff, libjpeg and libpng by absolute /usr paths
# and link -lnsl (which libofstd does not use); point them into this prefix and drop nsl, and give
# the runtime-only packages the unversioned .so links the linker opens.
relocate_dcmtk() {
  local prefix=$1 targets=$1/$ARCH_LIB/cmake/dcmtk/DCMTKTargets.cmake name
  [[ -f $targets ]] || fail "no $targets in the unpacked DCMTK"
  sed -i -e 's|/usr/lib/x86_64-linux-gnu/lib|${_IMPORT_PREFIX}/lib/x86_64-linux-gnu/lib|g' \
    -e 's|"DCMTK::config;nsl;|"DCMTK::config;|' "$targets" || fail "sed $targets"
  for name in z xml2 tiff jpeg png; do
    dev_link "$prefix/$ARCH_LIB" "lib$name"
  done
}

# DIR/NAME.so -> the versioned NAME.so.N in DIR, unless a -dev package made it.
dev_link() {
  local dir=$1 name=$2 target
  [[ -e $dir/$name.so ]] && return 0
  target=$(cd "$dir" && find . -maxdepth 1 -name "$name.so.*" -printf '%f\n' | sort | head -n 1)
  [[ -n $target ]] || fail "no $name.so.* in $dir"
  ln -s "$target" "$dir/$name.so"
}

# /lib/x86_64-linux-gnu into usr/lib/x86_64-linux-gnu, as a merged-/usr system has it (zlib,
# expat and xz ship in /lib), and absolute links (zlib's libz.so) made relative inside PREFIX.
merge_usr() {
  local prefix=$1 link target
  if [[ -d $prefix/lib/x86_64-linux-gnu ]]; then
    { cp -a "$prefix"/lib/x86_64-linux-gnu/. "$prefix/$ARCH_LIB/" && rm -rf "${prefix:?}/lib"; } ||
      fail "moving $prefix/lib into $prefix/$ARCH_LIB"
  fi
  while IFS= read -r link; do
    target=$(basename "$(readlink "$link")")
    [[ -e $(dirname "$link")/$target ]] || fail "$link points outside $prefix"
    ln -sfn "$target" "$link"
  done < <(find "$prefix" -type l -lname '/*')
}

# dpkg -x of every .deb into PREFIX, without documentation and static libraries.
unpack() {
  local prefix=${1:?unpack needs a PREFIX} deb
  local debs=("$DEPS_DIR"/debs/*.deb)
  [[ -e ${debs[0]} ]] || fail "no .deb files in $DEPS_DIR/debs (run: bash bench/gpu_deps.sh download)"
  [[ $prefix != / && $prefix != /usr* ]] || fail "refusing to unpack into $prefix"
  { rm -rf "$prefix" && mkdir -p "$prefix"; } || fail "mkdir $prefix"
  for deb in "${debs[@]}"; do
    dpkg -x "$deb" "$prefix" || fail "dpkg -x $deb"
  done
  rm -rf "$prefix"/usr/share/{doc,man,lintian,bug} || fail "rm docs"
  merge_usr "$prefix"
  find "$prefix/$ARCH_LIB" -name '*.a' -delete
  relocate_dcmtk "$prefix"
  log "unpacked ${#debs[@]} packages into $prefix: $(size_of "$prefix")"
}

# PREFIX/runtime-lib: links to the unpacked shared libraries whose file name the ld.so cache
# does not know (so the system's own libz, libssl, ... win where it has them), or to all of them
# with DEPS_LIBS=all. Prints the folder.
libdir() {
  local prefix=${1:?libdir needs a PREFIX} lib name cache
  local out=$prefix/runtime-lib
  [[ -d $prefix/$ARCH_LIB ]] || fail "$prefix/$ARCH_LIB missing (run unpack first)"
  cache=$({ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | awk '{print $1}')
  { rm -rf "$out" && mkdir -p "$out"; } || fail "mkdir $out"
  for lib in "$prefix/$ARCH_LIB"/lib*.so.*; do
    name=$(basename "$lib")
    if [[ ${DEPS_LIBS:-missing} == all ]] || ! grep -qxF "$name" <<<"$cache"; then
      ln -s "$lib" "$out/$name"
    fi
  done
  log "$(find "$out" -type l | wc -l) libraries in $out"
  echo "$out"
}

# The films with masses (CIRC, SPIC, MISC rows: 56 films, mdb059 among them without a location)
# and an Info.txt of the free-text header plus their rows, as ../shared/data/mini-mias-pgm does.
data() {
  local out=$DATA_DIR/mini-mias-masses films
  [[ -f $MIAS_ROOT/Info.txt ]] || fail "no $MIAS_ROOT/Info.txt (set MIAS_ROOT)"
  films=$(awk '$1 ~ /^mdb/ && $3 ~ /^(CIRC|SPIC|MISC)$/ {print $1}' "$MIAS_ROOT/Info.txt" | sort -u)
  [[ -n $films ]] || fail "no mass rows in $MIAS_ROOT/Info.txt"
  { rm -rf "$out" && mkdir -p "$out"; } || fail "mkdir $out"
  awk -v keep="$(tr '\n' ' ' <<<"$films")" 'BEGIN {n = split(keep, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1}
    $1 !~ /^mdb/ || ($1 in want)' "$MIAS_ROOT/Info.txt" >"$out/Info.txt" || fail "Info.txt"
  cp "$MIAS_ROOT/Licence.txt" "$out/" || fail "Licence.txt"
  for film in $films; do
    cp "$MIAS_ROOT/$film.png" "$out/" || fail "$MIAS_ROOT/$film.png"
  done
  log "$(wc -w <<<"$films") films with masses in $out: $(size_of "$out")"
  # One film as distributed (PGM), which gdcmimg turns into DICOM there for the DICOM paths.
  { mkdir -p "$DATA_DIR/pgm" && cp "$MIAS_PGM/mdb001.pgm" "$DATA_DIR/pgm/"; } ||
    log "warning: no $MIAS_PGM/mdb001.pgm: gpu_whole.sh will skip its DICOM check"
}

case ${1:-all} in
  download) download ;;
  unpack) unpack "${2:-}" ;;
  libdir) libdir "${2:-}" ;;
  data) data ;;
  all)
    download
    unpack "$DEPS_DIR/root"
    log "to carry: $DEPS_DIR/debs $(size_of "$DEPS_DIR/debs")"
    ;;
  *) fail "unknown step '$1' (all, download, unpack PREFIX, libdir PREFIX, data)" ;;
esac
