#!/usr/bin/env bash
# The short run of every harness (CTest fuzz.short in the normal build):
#   fuzz/short_all.sh BUILD_DIR
# configures BUILD_DIR with clang and -DFMAS_FUZZ=ON, builds the harnesses
# and runs each over its seed corpus (fuzz/run_short.sh, CTest label fuzz
# there). Without clang or its libFuzzer runtime it prints one SKIP line and
# exits 77 (a skipped test in CTest).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
cc=${FMAS_FUZZ_CC:-clang}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    >"$probe/probe.c"
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "SKIP: $cc is not installed (Debian: apt-get install clang libclang-rt-14-dev)"
    exit 77
fi
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" >/dev/null 2>&1; then
    echo "SKIP: $cc cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-14-dev)"
    exit 77
fi
jobs=$(nproc 2>/dev/null || echo 2)
CC=$cc cmake -S "$root" -B "$build" -DFMAS_FUZZ=ON -DFMAS_TESTS=OFF -DFMAS_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_all -j "$jobs" >/dev/null
cd "$build/fuzz" && FMAS_FUZZ_SECONDS=${FMAS_FUZZ_SECONDS:-10} \
    ctest -L fuzz --no-tests=error --output-on-failure -j "$jobs"
