# Sourced by scripts that install their own Debian packages when run as root.
# The caller defines missing_packages (prints the missing package names, one a
# line), say and die. ensure_packages HINT installs what is missing as root,
# or names it and exits 3 otherwise (HINT: how else to get them).
ensure_packages() {
  local -a missing
  mapfile -t missing < <(missing_packages | sed '/^$/d')
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing packages: ${missing[*]}"
    say "install them as root: apt-get install --no-install-recommends ${missing[*]}  ($1)"
    exit 3
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  mapfile -t missing < <(missing_packages | sed '/^$/d')
  [ "${#missing[@]}" -eq 0 ] || die "still missing after apt-get install: ${missing[*]}"
}
