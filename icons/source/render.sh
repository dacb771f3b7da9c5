#!/bin/sh
# Regenerates every icon from the SVG sources. Needs rsvg-convert (Debian: librsvg2-bin)
# and the UI's npm dependencies (for the Tauri CLI). Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
icons=$(dirname "$here")
ui=$(dirname "$icons")/ui

rsvg-convert -w 1024 -h 1024 "$here/countersign.svg" -o "$here/countersign-1024.png"
rsvg-convert -w 32 -h 32 "$here/tray.svg" -o "$icons/tray.png"
rsvg-convert -w 64 -h 64 "$here/tray.svg" -o "$icons/tray@2x.png"
(cd "$ui" && npx tauri icon "$here/countersign-1024.png" -o "$icons")
# Desktop app only.
rm -rf "$icons/android" "$icons/ios"
cp "$here/countersign.svg" "$ui/src/assets/mark.svg"
cp "$here/countersign.svg" "$ui/public/favicon.svg"
