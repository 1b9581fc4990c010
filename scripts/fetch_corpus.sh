#!/usr/bin/env bash
# Builds a corpus of real, freely licensed music recordings from Debian's game-music packages,
# one folder per package, plus labels.tsv (path <TAB> group <TAB> seconds).
# The group (the package) is the ground truth for "sounds alike" in quality benchmarks:
# tracks written for the same game share composers, instruments and mood.
#
# Two sets, with no package (and no game) in common:
#   dev  the development corpus: tune and compare settings on it.
#        6 groups, 170 tracks (16-45 a group, 12 h), 680 MB of packages.  DEST: ~/.cache/deejai-corpus
#   val  the validation corpus: check that settings chosen on dev generalise; don't tune on it.
#        13 groups, 180 tracks (8-40 a group, 9 h), 840 MB of packages.   DEST: ~/.cache/deejai-corpus-val
#
# usage: scripts/fetch_corpus.sh [--set dev|val] [DEST]      (default set: dev)
# Needs: apt-get (run as root; it runs 'apt-get update' once), dpkg-deb, unzip; installs ffmpeg if missing.
# Labels keep only tracks of 30 s or more; val keeps at most 40 a group (spread evenly by name).
# Safe to re-run: finished groups are kept.
set -euo pipefail
SET=dev
if [ "${1:-}" = --set ]; then SET=${2:?usage: fetch_corpus.sh [--set dev|val] [DEST]}; shift 2; fi
# package  <TAB>  folder inside the package that holds the music (searched recursively);
# "pk3:ARCHIVE:FOLDER" reads FOLDER from a zip archive inside the package;
# "ogg:FOLDER" also takes the files without an extension there, which are Ogg (saved as NAME.ogg)
case $SET in
  dev)
    DEST=${1:-${HOME}/.cache/deejai-corpus}; MAX_TRACKS=0   # 0: no cap (supertux-data has 45)
    PACKAGES=(
      "wesnoth-1.16-music	usr/share/games/wesnoth/1.16/data/core/music"
      "warzone2100-music	usr/share/games/warzone2100/music"
      "supertux-data	usr/share/games/supertux2/music"
      "hedgewars-data	usr/share/games/hedgewars/Data/Music"
      "singularity-music	usr/share/games/singularity/music"
      "nexuiz-music	pk3:usr/share/games/nexuiz/data/music.pk3:sound/cdtracks"
    ) ;;
  val)
    DEST=${1:-${HOME}/.cache/deejai-corpus-val}; MAX_TRACKS=40
    PACKAGES=(
      "colobot-common-sounds	usr/share/games/colobot/music"
      "ufoai-music	pk3:usr/share/games/ufoai/base/0music.pk3:music"
      "unknown-horizons	usr/share/unknown-horizons/content/audio/music"
      "marsshooter-data	usr/share/games/marsshooter/audio/music"
      "blobwars-data	ogg:usr/share/games/blobwars/music"
      "starfighter-data	usr/share/starfighter/music"
      "trackballs-data	usr/share/games/trackballs/music"
      "enigma-data	usr/share/games/enigma/music"
      "davegnukem-data	usr/share/games/davegnukem/music/eric_matyas"
      "wizznic-data	usr/share/games/wizznic/packs/000_wizznic/music"
      "ardentryst	usr/share/games/ardentryst/Music"
      "adonthell-data	usr/share/games/adonthell/games/wastesedge/audio"
      "amoebax-data	usr/share/games/amoebax/music"
    ) ;;
  *) echo "unknown set '$SET' (dev or val)" >&2; exit 2 ;;
esac
mkdir -p "$DEST/debs" "$DEST/music"
updated=0
for row in "${PACKAGES[@]}"; do
  pkg=${row%%	*}; inner=${row#*	}
  out="$DEST/music/$pkg"
  [ -f "$out/.done" ] && continue
  if ! ls "$DEST/debs/${pkg}"_*.deb >/dev/null 2>&1; then
    [ $updated = 1 ] || { apt-get update -qq; updated=1; }
    (cd "$DEST/debs" && apt-get download -qq "$pkg")
  fi
  tmp=$(mktemp -d); dpkg-deb -x "$DEST/debs/${pkg}"_*.deb "$tmp"
  rm -rf "$out"; mkdir -p "$out"
  bare=0; [[ $inner == ogg:* ]] && { bare=1; inner=${inner#ogg:}; }
  if [[ $inner == pk3:* ]]; then
    rest=${inner#pk3:}; zip=${rest%%:*}; sub=${rest#*:}
    unzip -q -o "$tmp/$zip" "$sub/*" -d "$tmp/pk3"; src="$tmp/pk3/$sub"
  else
    src="$tmp/$inner"
  fi
  find "$src" -type f \( -iname '*.ogg' -o -iname '*.opus' -o -iname '*.mp3' -o -iname '*.flac' \) \
    -exec cp -n {} "$out/" \;
  if [ $bare = 1 ]; then
    find "$src" -type f ! -name '*.*' -exec sh -c 'cp -n "$1" "$2/${1##*/}.ogg"' _ {} "$out" \;
  fi
  rm -rf "$tmp"; touch "$out/.done"
done
# ffprobe measures durations (and the project needs ffmpeg anyway)
if ! command -v ffprobe >/dev/null; then
  [ $updated = 1 ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
fi
# labels: only tracks of 30 s or more (short stingers and jingles are left out);
# with a cap, a group keeps MAX_TRACKS of them, spread evenly over the names
python3 - "$DEST" "$MAX_TRACKS" <<'PY'
import os, subprocess, sys
dest, cap = sys.argv[1], int(sys.argv[2])
rows = []
for group in sorted(os.listdir(os.path.join(dest, "music"))):
    folder = os.path.join(dest, "music", group)
    kept = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        path = os.path.join(folder, name)
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                              "-of", "csv=p=0", path], capture_output=True, text=True).stdout.strip()
        try:
            seconds = float(out)
        except ValueError:
            continue
        if seconds >= 30:
            kept.append(f"{path}\t{group}\t{seconds:.1f}")
    if cap and len(kept) > cap:
        kept = [kept[i * len(kept) // cap] for i in range(cap)]
    rows += kept
with open(os.path.join(dest, "labels.tsv"), "w") as f:
    f.write("path\tgroup\tseconds\n" + "\n".join(rows) + "\n")
print(f"{len(rows)} tracks in {len(set(r.split(chr(9))[1] for r in rows))} groups -> {dest}/labels.tsv")
PY
