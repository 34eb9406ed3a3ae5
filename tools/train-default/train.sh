#!/usr/bin/env bash
# Trains the shipped default model pair (models/default/{target,draft}) on this machine's Python standard
# library sources and writes the manifest. CPU only; about 50 minutes on a 2-core machine (the
# target is trained, then the draft is distilled from it).
# Usage: tools/train-default/train.sh [OUT]   (default OUT: models/default)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-models/default}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet build src/Granary.Server -c Release -o "$work/bin" >/dev/null
# glibc would otherwise unmap and re-zero the large per-step buffers every step (up to 2/3 of the CPU
# time, see NativeHeapTuning); these must be set before the process starts.
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=1073741824
dotnet "$work/bin/granary.dll" model train --out "$work/pair" --corpus /usr/lib/python3.11 --seed 0 \
  --target 6x256/4/1/704 --draft 2x128/4/1/352 --target-steps 1000 --draft-steps 1500 --distill 0.75

mkdir -p "$out"
rm -rf "$out/target" "$out/draft"
cp -r "$work/pair/target" "$work/pair/draft" "$out/"
cp "$work/pair/metrics.json" "$out/metrics.json"
(cd "$out" && find target draft -type f | sort | xargs sha256sum > MANIFEST.sha256)
echo "wrote $out (see $out/metrics.json; update MODEL_CARD.md from it)"
