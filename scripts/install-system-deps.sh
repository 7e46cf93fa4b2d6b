#!/usr/bin/env bash
# Installs, where missing and where we are root, the Debian packages the tests use:
# ffmpeg/ffprobe, tshark, GStreamer (tools, plugins, RTSP server + Python bindings), Xvfb, Chromium,
# iptables (loss on the path, made by the kernel).
# Installed without recommends, so the fonts Xvfb and Chromium need are named here.
set -euo pipefail
packages=(ffmpeg tshark gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
          gstreamer1.0-plugins-bad gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi
          xvfb xauth xfonts-base fonts-dejavu-core xdotool chromium chromium-driver iptables)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system packages missing (install them as root): ${missing[*]}" >&2
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
