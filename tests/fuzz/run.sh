#!/usr/bin/env bash
# run.sh BUILD BIN SECONDS TARGET... — runs each libFuzzer target (BUILD/fuzz/fuzz_<target>) for SECONDS on
# its checked-in corpus (tests/fuzz/corpus/<target>/, read only) and seeds made here from the repository's
# fixtures, with its dictionary (tests/fuzz/<target>.dict); new inputs go to BUILD/fuzz/corpus/<target>/, a
# crash to BUILD/fuzz/crash-<target>-*. Prints one line per target (executions, rate, corpus, crashes) and
# exits 1 when any target crashed. Run from the repository root; BIN is the built bin/shapebench.
set -uo pipefail
root=$(pwd)
build=$(realpath "$1") bin=$(realpath "$2") seconds=$3
shift 3
fixtures=$root/tests/fixtures
seeds_root=$build/fuzz/seeds
rm -rf "$seeds_root"

# The small model fuzz_safetensors.c reads files of (its FUZZ_SPEC), as `init` writes it.
SAFETENSORS_SPEC='t5-efficient-tiny:vocab_size=16,d_model=8,d_ff=16,num_heads=2,d_kv=4,num_layers=1,'
SAFETENSORS_SPEC+='num_decoder_layers=1,feed_forward_proj=gated-gelu,tie_word_embeddings=false'

seed() { # seed TARGET NAME: stdin becomes one seed file
    mkdir -p "$seeds_root/$1" && cat > "$seeds_root/$1/$2"
}

make_seeds() {
    local tmp
    tmp=$(mktemp -d)
    "$bin" init "$SAFETENSORS_SPEC" --out "$tmp/model" > /dev/null
    seed safetensors own < "$tmp/model/model.safetensors"
    for f in "$fixtures"/*/model.safetensors; do
        head -c 32768 "$f" | seed safetensors "fixture-$(basename "$(dirname "$f")")"
    done
    for f in "$fixtures"/*/config*.json; do
        seed config_json "$(basename "$(dirname "$f")")-$(basename "$f")" < "$f"
    done
    for name in t5-efficient-tiny-nl2 switch-base-8 t5-v1_1-small t5-efficient-small+switch8/step1; do
        "$bin" config "$name" | seed config_json "${name//\//-}"
    done
    # every published name, and the grammar, Switch suffixes and overrides
    "$bin" list --json | grep -o '"name":[[:space:]]*"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' | head -n 400 > "$tmp/names"
    printf '%s\n' 't5-efficient-base-dm1000-ff6000' 'google/t5-efficient-mini-nl24' 't5-efficient-tiny-skv-kv16' \
        't5-efficient-small+switch32' 'switch-base-8:num_layers=2,d_model=512' \
        't5-small:feed_forward_proj=gated-gelu,tie_word_embeddings=false' 't5-efficient-tiny:num_decoder_layers=null' \
        >> "$tmp/names"
    local i=0
    while IFS= read -r name; do
        i=$((i + 1))
        printf '%s' "$name" | seed names "n$i"
    done < "$tmp/names"
    seed records fixture < "$fixtures/results-small/results.jsonl"
    head -n 3 "$fixtures/results-small/results.jsonl" | seed records head3
    head -c 2000 "$fixtures/results-small/results.jsonl" | seed records torn
    i=0
    for text in '0512' '0-7' '09223372036854775807' '01.5e3' '1128-1024*2' '11,4-16*2,100' '13-5' '1128-512+128' \
        '20' '21-4' '2openblas,onednn' '2f32,bf16' '22.5' '2md' '31/4' '3analytic.params:max' '3train'; do
        i=$((i + 1))
        printf '%s' "$text" | seed ranges "r$i"
    done
    for d in "$fixtures"/*/; do
        [ -f "$d/expected.json" ] || continue
        { cat "$d/expected.json"; printf '\0'; cat "$d/input_ids.bin"; } | seed fixture "$(basename "$d")"
    done
    rm -rf "$tmp"
}
make_seeds

# The targets' scratch files (fuzz_scratch) on a memory file system where there is one: the records target
# writes reports, merges and plot data, each fsync'd, for every input.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi

failed=0
for target in "$@"; do
    work=$build/fuzz/corpus/$target
    mkdir -p "$work" "$root/tests/fuzz/corpus/$target"
    dict=()
    [ -f "$root/tests/fuzz/$target.dict" ] && dict=(-dict="$root/tests/fuzz/$target.dict")
    log=$build/fuzz/$target.log
    # -close_fd_mask=1: the commands' tables on stdout are not the test; crashes still print on stderr.
    "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=4096 \
        -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$build/fuzz/crash-$target-" "${dict[@]}" \
        "$work" "$root/tests/fuzz/corpus/$target" "$seeds_root/$target" > "$log" 2>&1
    status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
    units=$(find "$work" -type f | wc -l)
    if [ "$status" -ne 0 ]; then
        failed=1
        echo "fuzz_$target: CRASH (exit $status) after ${runs:-?} executions: see $log and $build/fuzz/crash-$target-*"
        grep -m 5 -E 'ERROR|runtime error|broken promise' "$log"
    else
        echo "fuzz_$target: ${runs:-?} executions in $seconds s (${rate:-?}/s), $units new inputs, 0 crashes"
    fi
done
exit $failed
