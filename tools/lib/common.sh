# Shared by tools/check and tools/demo (sourced, not executed). Bash only.
#
#   bl_repo_root                 absolute path of the repository (cwd-independent)
#   bl_ensure_packages           installs missing Debian packages (root) or prints the apt-get line
#   bl_find_nvcc                 prints the nvcc path, or nothing
#   bl_configure DIR ARGS...     cmake configure of DIR with the given -D options
#   bl_jobs                      parallel jobs: BACKLIGHT_CHECK_JOBS, else the number of CPUs

# Everything the build needs; all from Debian 12. make: cmake's generator (only a Recommends
# of cmake, so --no-install-recommends would skip it).
# libopenmpi-dev, openmpi-bin: dataset-scale runs under mpirun (the "mpi" test suite runs 2 and 3 ranks).
# python3-venv, python3-dev, python3-pytest, python3-numpy: the Python package's stage (its build
# requirement nanobind comes from the package index into the stage's venv, as for any pip build).
BL_PACKAGES=(cmake make g++ libeigen3-dev doctest-dev libstb-dev nlohmann-json3-dev ccache
             libonnx-dev libprotobuf-dev python3-venv python3-dev python3-pytest python3-numpy
             libopenmpi-dev openmpi-bin)

bl_repo_root() (
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
)

# ccache keeps its cache under $HOME; give it a place inside build/ when there is no usable home
# (minimal CI containers), instead of letting every compile fail.
if [[ -z "${CCACHE_DIR:-}" && ( -z "${HOME:-}" || ! -w "${HOME:-/nonexistent}" ) ]]; then
  export CCACHE_DIR="$(bl_repo_root)/build/.ccache"
fi

# Paths relative to the repository in ccache's hashes, and the build folder left out of them: a
# fresh clone in another folder (CI) then reuses what an earlier check here compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(bl_repo_root)}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

bl_jobs() {
  echo "${BACKLIGHT_CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}"
}

bl_missing_packages() {
  local p missing=()
  for p in "${BL_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != "installed" ]]; then
      missing+=("$p")
    fi
  done
  echo "${missing[@]}"
}

bl_ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "packages: no dpkg-query (not Debian?); assuming these are installed: ${BL_PACKAGES[*]}"
    return 0
  fi
  local missing
  missing="$(bl_missing_packages)"
  if [[ -z "$missing" ]]; then
    echo "packages: all present (${BL_PACKAGES[*]})"
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "packages: missing: $missing. Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing" >&2
    return 1
  fi
  echo "packages: installing $missing"
  # No stdin in CI: never let apt or debconf ask a question.
  DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing </dev/null || return 1
  missing="$(bl_missing_packages)"
  if [[ -n "$missing" ]]; then
    echo "packages: still missing after apt-get: $missing" >&2
    return 1
  fi
}

bl_find_nvcc() {
  if command -v nvcc >/dev/null 2>&1; then
    command -v nvcc
  elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
    echo /usr/local/cuda/bin/nvcc
  fi
}

bl_configure() {
  local dir="$1"
  shift
  cmake -S "$(bl_repo_root)" -B "$dir" "$@"
}
