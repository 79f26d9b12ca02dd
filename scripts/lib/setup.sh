# shellcheck shell=bash
# The set-up steps every script shares, sourced (never run): each one checks before it acts, is quick when all is
# present, and stops the calling script with one line naming what is missing. Every message starts with the
# calling script's name ($setup_name, default: the script's file name).
#
#   setup_need_root WHY            stop unless root
#   setup_need_cargo               stop unless cargo (and rustc) are on PATH: the one thing no script installs
#   setup_need_rustup              the same for rustup (needed to add compilation targets)
#   setup_apt PACKAGE...           install the Debian/Ubuntu packages that are not installed yet (apt-get, root)
#   setup_commands COMMAND...      stop unless every command is on PATH (the check after an install)
#   setup_venv DIR REQUIREMENTS    a Python venv in DIR holding REQUIREMENTS (re-filled when the file changes)
#   setup_rust_targets TARGET...   add the rustup targets that are not installed yet
#   setup_rust_components NAME...  add the rustup components (rustfmt, clippy) that are not installed yet
#
# "Fresh" means Debian 12 or Ubuntu 24.04, as root, with a Rust toolchain from rustup and nothing else.

setup_name=${setup_name:-$(basename "$0")}

setup_fail() {
  echo "$setup_name: $*" >&2
  exit 1
}

setup_need_root() {
  [ "$(id -u)" = 0 ] || setup_fail "run as root: $1"
}

setup_need_cargo() {
  local tool
  for tool in cargo rustc; do
    command -v "$tool" >/dev/null 2>&1 ||
      setup_fail "$tool is not on PATH: install Rust with rustup (https://rustup.rs) and open a new shell, or add ~/.cargo/bin to PATH"
  done
}

setup_need_rustup() {
  command -v rustup >/dev/null 2>&1 ||
    setup_fail "rustup is not on PATH: it adds the static (musl) compilation targets; install Rust with rustup (https://rustup.rs)"
}

# The packages of "$@" that dpkg does not list as installed, on stdout, one line.
setup_apt_missing() {
  local package missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  echo "${missing[*]}"
}

setup_apt() {
  command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 ||
    setup_fail "apt-get is not here: these scripts install their packages on Debian 12 or Ubuntu 24.04; elsewhere install the equivalents of: $*"
  local missing
  missing=$(setup_apt_missing "$@")
  [ -n "$missing" ] || return 0
  [ "$(id -u)" = 0 ] || setup_fail "installing Debian packages needs root: run as root, or install them yourself: $missing"
  echo "$setup_name: installing $missing" >&2
  local log
  log=$(mktemp)
  # shellcheck disable=SC2086 # one word per package
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    rm -f "$log"
    setup_fail "apt-get could not install: $missing (its last lines are above)"
  fi
  rm -f "$log"
}

setup_commands() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || setup_fail "$tool is not installed (run scripts/install-test-deps, or scripts/install-demo-deps for the demo)"
  done
}

setup_venv() {
  local venv=$1 requirements=$2
  local stamp want
  stamp="$venv/.$(basename "$requirements").sha256"
  # The stamp covers the file and the files it includes with -r, so a change to either re-fills the venv.
  want=$(cd "$(dirname "$requirements")" && cat "$(basename "$requirements")" $(sed -n 's/^-r[[:space:]]*//p' "$(basename "$requirements")") | sha256sum | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  setup_commands python3
  echo "$setup_name: filling $venv from $requirements" >&2
  python3 -m venv "$venv" || setup_fail "python3 -m venv $venv failed (Debian and Ubuntu ship venv apart: apt-get install python3-venv)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" ||
    setup_fail "pip could not install $requirements into $venv (its messages are above)"
  echo "$want" >"$stamp"
}

setup_rust_targets() {
  local target installed
  setup_need_rustup
  installed=$(rustup target list --installed)
  for target in "$@"; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target" >&2 || setup_fail "rustup could not add the target $target"
  done
}

setup_rust_components() {
  local component installed
  setup_need_rustup
  installed=$(rustup component list --installed)
  for component in "$@"; do
    grep -q "^$component" <<<"$installed" || rustup component add "$component" >&2 ||
      setup_fail "rustup could not add the component $component"
  done
}
