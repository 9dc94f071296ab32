# shellcheck shell=bash
# Shared set-up for scripts/develop and scripts/test.
#
# Home Assistant 2026.3+ needs Python >= 3.14.2. When the host has one (on
# PATH, or known to uv) we build a venv with it. Otherwise we provision a
# Debian sid root next to the machine (debootstrap, Debian's python3.14) and
# run everything inside it with the checkout bind-mounted at the same path.
# Every step is idempotent: a warm machine re-uses the root and the venv and
# only repairs what is missing (mounts, a changed requirements file).
#
# After sourcing, call `sunstream_provision`; then `sunstream_run CMD...`
# runs CMD in the repo with the venv active, wherever it lives, and
# `sunstream_release` when done (it unmounts this checkout from the root
# once no other run of it needs it). `scripts/clean` removes it all.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SID_ROOT="${SUNSTREAM_SID_ROOT:-/var/lib/sunstream/sid}"
REQUIREMENTS="$REPO/requirements_test.txt"
MIN_PY="3.14.2"
# Real peers the tests and benchmarks run: the MQTT broker, a headless
# browser for the dashboard page, Node's `ws` for the reference server, and
# the linter of the shell scripts (tests/addon/test_packaging.py).
SYSTEM_PACKAGES=(mosquitto chromium nodejs node-ws shellcheck)

log() { printf '\033[1;34m[sunstream]\033[0m %s\n' "$*" >&2; }

keep_previous_log() {
    # keep_previous_log FILE: move a non-empty FILE to FILE.1 and start FILE empty.
    local file="$1"
    if [[ -s "$file" ]]; then mv -f "$file" "$file.1"; fi
    : >"$file"
}

# --- host Python ------------------------------------------------------------

_py_ok() {
    "$1" -c "import sys; sys.exit(0 if sys.version_info >= (${MIN_PY//./, }) else 1)" 2>/dev/null
}

_find_host_python() {
    local cand
    for cand in python3.14 python3.15 python3; do
        if command -v "$cand" >/dev/null 2>&1 && _py_ok "$(command -v "$cand")"; then
            command -v "$cand"
            return 0
        fi
    done
    if command -v uv >/dev/null 2>&1; then
        cand="$(uv python find ">=$MIN_PY" 2>/dev/null || true)"
        if [[ -n "$cand" ]] && _py_ok "$cand"; then
            echo "$cand"
            return 0
        fi
    fi
    return 1
}

# --- Debian sid root --------------------------------------------------------

_mirror() {
    # The machine's own Debian mirror, read at run time, never written down.
    local src=/etc/apt/sources.list.d/debian.sources
    if [[ -f "$src" ]]; then
        awk '/^URIs:/ {print $2; exit}' "$src"
    elif [[ -f /etc/apt/sources.list ]]; then
        awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list
    fi
}

_mount_once() {
    # _mount_once TARGET ARGS...: mount unless TARGET is already a mountpoint.
    local target="$1"; shift
    mkdir -p "$target"
    mountpoint -q "$target" || mount "$@" "$target"
}

_ensure_root() {
    if [[ ! -x "$SID_ROOT/usr/bin/python3.14" ]]; then
        if ! command -v debootstrap >/dev/null 2>&1; then
            log "installing debootstrap"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
        fi
        local mirror; mirror="$(_mirror)"
        [[ -n "$mirror" ]] || { log "no Debian mirror configured"; return 1; }
        log "provisioning a Debian sid root with Python 3.14 at $SID_ROOT (about a minute)"
        rm -rf "$SID_ROOT.partial"
        mkdir -p "$(dirname "$SID_ROOT")"
        debootstrap --variant=minbase \
            --include=python3.14,python3.14-venv,python3.14-dev,build-essential,ca-certificates,git \
            sid "$SID_ROOT.partial" "$mirror" >"/tmp/sunstream-debootstrap.log" 2>&1 \
            || { log "debootstrap failed, see /tmp/sunstream-debootstrap.log"; return 1; }
        echo 'Acquire::Check-Valid-Until "false";' >"$SID_ROOT.partial/etc/apt/apt.conf.d/99sunstream"
        mv "$SID_ROOT.partial" "$SID_ROOT"
    fi
    cp -L /etc/resolv.conf "$SID_ROOT/etc/resolv.conf" 2>/dev/null || true
    if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
        mkdir -p "$SID_ROOT/etc/ssl/certs"
        cp -L /etc/ssl/certs/ca-certificates.crt "$SID_ROOT/etc/ssl/certs/ca-certificates.crt"
    fi
    # pip inside the root must see the same index settings as the host.
    if [[ -f /etc/pip.conf ]]; then cp -L /etc/pip.conf "$SID_ROOT/etc/pip.conf"; fi
    _mount_once "$SID_ROOT/proc" -t proc proc
    _mount_once "$SID_ROOT/dev" --bind /dev
    _mount_once "$SID_ROOT/dev/pts" --bind /dev/pts
    _mount_once "$SID_ROOT/dev/shm" --bind /dev/shm
    _hold_repo_lock
    _mount_repo
}

# Mounts: /proc and /dev stay mounted for every checkout that uses the root
# (they hold no files of ours, and checkouts on older scripts use them
# without any lock, so no count of their users could be trusted); only this
# checkout's bind mount is released after the run, by the last run of it
# still going. scripts/clean unmounts everything before removing the root.
SUNSTREAM_LOCK_FD=""

_hold_repo_lock() {
    # Every run from this checkout holds a shared lock on a file of its own for
    # as long as it uses the root; the kernel drops the lock of a run that
    # dies, so the count never goes stale.
    local dir="$SID_ROOT/var/lib/sunstream-locks" name
    mkdir -p "$dir"
    name="$(printf '%s' "$REPO" | sha256sum | cut -c1-16)"
    exec {SUNSTREAM_LOCK_FD}>"$dir/$name.lock"
    flock -s "$SUNSTREAM_LOCK_FD"
}

sunstream_release() {
    # Unmount this checkout from the root unless another run of it still
    # holds the lock (then the last one unmounts it) or still uses the mount.
    [[ -n "$SUNSTREAM_LOCK_FD" ]] || return 0
    local inside="$SID_ROOT$REPO"
    if flock -x -n "$SUNSTREAM_LOCK_FD" && mountpoint -q "$inside"; then
        umount "$inside" 2>/dev/null || log "$inside is still in use; left mounted (scripts/clean removes it)"
    fi
    exec {SUNSTREAM_LOCK_FD}>&-
    SUNSTREAM_LOCK_FD=""
}

_mount_repo() {
    # The checkout appears inside the root at the same path. A mount left by
    # an earlier clone at this path (since deleted) is replaced.
    local inside="$SID_ROOT$REPO"
    if mountpoint -q "$inside"; then
        if [[ "$(stat -c '%d:%i' "$REPO")" == "$(stat -c '%d:%i' "$inside")" ]]; then
            return 0
        fi
        umount -l "$inside"
    fi
    mkdir -p "$inside"
    mount --bind "$REPO" "$inside"
}

_root_missing_packages() {
    # Print the SYSTEM_PACKAGES that dpkg inside the root does not have installed.
    local installed
    # shellcheck disable=SC2016 # dpkg-query's own format fields
    installed="$(_in_root dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
        "${SYSTEM_PACKAGES[@]}" 2>/dev/null | awk '$2 == "installed" {print $1}')" || true
    local pkg
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        grep -qxF "$pkg" <<<"$installed" || echo "$pkg"
    done
}

_ensure_root_packages() {
    # Whether every wanted package is installed is dpkg's to say, not the
    # stamp's: checkouts with an older or newer list share this root, and a
    # list compared for equality would make each reinstall after the other.
    # The stamp only says "provisioned" (runs wait for it); once written it is
    # left alone, as checkouts on older code still compare it with their list.
    local stamp="$SID_ROOT/var/lib/sunstream-packages"
    local missing
    mapfile -t missing < <(_root_missing_packages)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} into the sid root"
        _in_root apt-get -o Acquire::Check-Valid-Until=false update -qq >/dev/null
        _in_root env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false \
            install -y -qq --no-install-recommends "${missing[@]}" >/tmp/sunstream-apt.log 2>&1 \
            || { log "apt-get install failed, see /tmp/sunstream-apt.log"; return 1; }
    fi
    [[ -f "$stamp" ]] || echo "${SYSTEM_PACKAGES[*]}" >"$stamp"
}

_ensure_host_packages() {
    # Host mode: install what is missing when we may; tests skip what is absent.
    local missing=()
    command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    [[ -d /usr/share/nodejs/ws ]] || missing+=(node-ws)
    command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
    # A C compiler and libc headers: the fan-out benchmark's clients (bench/fanout/loadgen.c).
    command -v cc >/dev/null 2>&1 || missing+=(gcc)
    [[ -f /usr/include/stdio.h ]] || missing+=(libc6-dev)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
            >/tmp/sunstream-apt.log 2>&1 || log "could not install ${missing[*]} (see /tmp/sunstream-apt.log)"
    else
        log "missing ${missing[*]}: the tests that need them will be skipped"
    fi
}

# --- venv -------------------------------------------------------------------

_in_root() {
    # Run a command inside the sid root with a clean environment.
    chroot "$SID_ROOT" /usr/bin/env -i \
        HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        "$@"
}

_ensure_venv() {
    # _ensure_venv PREFIX PYTHON VENV [RUNNER...]: PREFIX is where VENV is seen
    # from here ("" on the host, the sid root otherwise); RUNNER runs commands
    # where PYTHON lives.
    local prefix="$1" py="$2" venv="$3"; shift 3
    local stamp="$prefix$venv/.sunstream-requirements"
    local want; want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    if [[ ! -f "$prefix$venv/pyvenv.cfg" ]]; then
        log "creating $venv"
        "$@" "$py" -m venv --clear "$venv"
        "$@" "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
    fi
    # Incremental: a changed requirements file installs only what changed.
    log "installing test requirements into $venv (first run: about two minutes)"
    "$@" "$venv/bin/pip" install -q --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" >"$stamp"
}

_ensure_frontend() {
    # _ensure_frontend PREFIX VENV [RUNNER...]: Home Assistant's frontend, at the
    # version Home Assistant pins, for the tests that draw a dashboard in it
    # (tests/test_develop_bootstrap.py). scripts/develop's Home Assistant would
    # install the same at its first start.
    local prefix="$1" venv="$2"; shift 2
    local found=("$prefix$venv"/lib/python3*/site-packages/hass_frontend/index.html)
    [[ -e "${found[0]}" ]] && return 0
    local pins=()
    read -ra pins <<<"$("$@" "$venv/bin/python" -c 'import json, pathlib, homeassistant
manifest = pathlib.Path(homeassistant.__file__).parent / "components/frontend/manifest.json"
print(*json.loads(manifest.read_text())["requirements"])')"
    ((${#pins[@]})) || { log "cannot read the frontend's version from Home Assistant"; return 1; }
    log "installing Home Assistant's frontend (${pins[*]}) into $venv"
    "$@" "$venv/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
}

SUNSTREAM_MODE=""
SUNSTREAM_VENV=""

sunstream_provision() {
    local py
    if [[ -z "${SUNSTREAM_FORCE_ROOT:-}" ]] && py="$(_find_host_python)"; then
        SUNSTREAM_MODE=host
        SUNSTREAM_VENV="${SUNSTREAM_VENV_DIR:-$REPO/.venv}"
        log "using host Python $py"
        _ensure_venv "" "$py" "$SUNSTREAM_VENV"
        _ensure_frontend "" "$SUNSTREAM_VENV"
        _ensure_host_packages
    else
        [[ "$(id -u)" == 0 ]] || { log "need root to provision Python $MIN_PY (or put python3.14 on PATH)"; return 1; }
        SUNSTREAM_MODE=root
        SUNSTREAM_VENV=/opt/sunstream-venv
        _ensure_root
        _ensure_venv "$SID_ROOT" /usr/bin/python3.14 "$SUNSTREAM_VENV" _in_root
        _ensure_frontend "$SID_ROOT" "$SUNSTREAM_VENV" _in_root
        _ensure_root_packages
    fi
}

sunstream_run() {
    # sunstream_run CMD...: run CMD at the repo root with the venv first on PATH.
    local venv_path="$SUNSTREAM_VENV/bin"
    if [[ "$SUNSTREAM_MODE" == host ]]; then
        (cd "$REPO" && VIRTUAL_ENV="$SUNSTREAM_VENV" PATH="$venv_path:$PATH" "$@")
    else
        # shellcheck disable=SC2016 # expanded by the shell inside
        _in_root VIRTUAL_ENV="$SUNSTREAM_VENV" PATH="$venv_path:/usr/local/bin:/usr/bin:/bin" \
            /bin/sh -c 'cd "$0" && exec "$@"' "$REPO" "$@"
    fi
}

# The Node Socket.IO reference's packages (bench/reference/socketio/package-lock.json) in
# bench/reference/socketio/node_modules, installed once per lock file with npm: the sid root's
# npm when it has one, else the host's (for the install step only: the packages are plain
# JavaScript), else npm is installed into the sid root with apt-get. scripts/bench-peers needs
# them, and so does tests/addon/test_sio_dashboard.py: the real client runs
# seed 003's dashboard (docs/protocols/app-seeds.md#seed-003).
# SC2016: the single-quoted snippets are for the inner sh, which expands them.
# shellcheck disable=SC2016
sunstream_socketio_reference() {
    local dir="$REPO/bench/reference/socketio"
    local stamp="$dir/node_modules/.sunstream-package-lock"
    local want
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
    local ci=(npm ci --no-audit --no-fund --loglevel=error)
    log "installing the Node Socket.IO reference's packages (npm ci)"
    if sunstream_run sh -c 'command -v npm' >/dev/null 2>&1; then
        sunstream_run sh -c 'cd "$0" && shift && exec "$@"' "$dir" "${ci[@]}"
    elif command -v npm >/dev/null 2>&1; then
        (cd "$dir" && "${ci[@]}")
    elif [[ "$SUNSTREAM_MODE" == root ]]; then
        log "installing npm into the sid root"
        _in_root env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false \
            install -y -qq --no-install-recommends npm >/tmp/sunstream-npm-apt.log 2>&1 \
            || { log "apt-get install npm failed, see /tmp/sunstream-npm-apt.log"; return 1; }
        sunstream_run sh -c 'cd "$0" && shift && exec "$@"' "$dir" "${ci[@]}"
    else
        log "npm is missing: install it (apt-get install npm) to run the Socket.IO comparison"
        return 1
    fi
    echo "$want" >"$stamp"
}
