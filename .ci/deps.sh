#!/usr/bin/env bash
# Installs the Debian packages fmas needs, when they are missing.
# Sourced by tests/run and server/run; prints the exact apt-get line when
# it cannot install them itself (not root).
fmas_deps() {
    local pkgs=(build-essential cmake pkg-config curl
                libmicrohttpd-dev libjansson-dev libgsl-dev liblmdb-dev
                libcurl4-openssl-dev libcmocka-dev libgmp-dev
                clang libclang-rt-14-dev    # the fuzz harnesses (fuzz/)
                wrk                         # the soak benchmark (bench/soak.sh)
                python3 python3-pytest python3-jsonschema python3-numpy python3-pil
                python3-torch python3-torchvision python3-sklearn
                python3-venv python3-setuptools python3-wheel)
    local missing=() p
    for p in "${pkgs[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "fmas: installing missing packages: ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
        echo "fmas: run as root, or install them first:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        return 1
    fi
}

# The dashboard (web/): Node.js and npm build its page, Chromium runs its
# browser tests. Not fatal: without them fmasd builds (GET / then says how
# to build the page) and the browser tests skip with a SKIP line.
fmas_web_deps() {
    local missing=()
    command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "fmas: installing for the dashboard: ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
          { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >&2 && return 0
    fi
    echo "fmas: could not install ${missing[*]}: the dashboard's browser tests will skip" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    return 1
}

# Builds web/dist/index.html (npm ci when package-lock.json is newer than
# node_modules, then npm run build), which the fmasd build embeds.
fmas_web_build() {
    if ! command -v npm >/dev/null 2>&1; then
        echo "fmas: npm not found: fmasd is built without the dashboard (GET / answers 503)" >&2
        return 1
    fi
    (
        cd web &&
        { [ node_modules/.package-lock.json -nt package-lock.json ] ||
          npm ci --no-audit --no-fund --loglevel=error; } &&
        npm run --silent build
    ) || { echo "fmas: building web/ failed: fmasd is built without the dashboard (GET / answers 503)" >&2; return 1; }
}

# The benchmarks' own tools (bench/http_speed.sh): wrk drives the single
# estimates over keep-alive connections.
fmas_bench_deps() {
    command -v wrk >/dev/null 2>&1 && return 0
    echo "fmas: installing for the benchmarks: wrk" >&2
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq --no-install-recommends wrk ||
          { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk; }; } >&2 && return 0
    fi
    echo "fmas: run as root, or install it first:  sudo apt-get install -y wrk" >&2
    return 1
}

# Beyond one machine (docs/deploy.md): nginx in front of a writer and read
# replicas, and a single-node Slurm (slurm-wlm, munge) for evaluations as
# jobs. Not fatal: without them the tests of tests/deploy print one SKIP
# line each and pass.
fmas_deploy_deps() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v slurmctld >/dev/null 2>&1 || [ -x /usr/sbin/slurmctld ] || missing+=(slurm-wlm)
    command -v munged >/dev/null 2>&1 || [ -x /usr/sbin/munged ] || missing+=(munge)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "fmas: installing for the deployment tests: ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
          { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >&2 && return 0
    fi
    echo "fmas: could not install ${missing[*]}: the deployment tests will skip" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    return 1
}
