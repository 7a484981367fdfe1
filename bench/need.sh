# Sourced by the bench scripts: installs from Debian's packages the commands a benchmark drives, when missing.
#   need COMMAND:PACKAGE ...   (a command in /usr/sbin counts even when that is not on PATH: nginx is there)
need() {
    local missing=() pair sudo=""
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
    done
    ((${#missing[@]})) || return 0
    echo "installing: ${missing[*]}" >&2
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}
