#!/usr/bin/env bash
# check_layers.sh BUILD LIBRARY... — the architecture, checked from the compiled objects (what calls what,
# not what a comment claims):
#   - no two files call each other, directly or around a loop (file-level calls, by nm, sorted with tsort);
#   - a library calls only the libraries listed after it (LIBRARIES in the Makefile: top to bottom);
#   - each library folder has exactly one header;
#   - no mutable file-scope (or function-static) variable in engine/: execution state lives in sb_exec;
#   - no library folder holds more than 40 % of the library code (lines of .c and .h).
# Prints what it found and exits 1 when a rule is broken.
set -uo pipefail
build=$1; shift
libs=("$@")
status=0
declare -A rank
for i in "${!libs[@]}"; do rank[${libs[$i]}]=$i; done

objects=()
for lib in "${libs[@]}"; do
    for c in "$lib"/*.c; do
        [ -e "$c" ] && [ "$c" != cli/main.c ] && objects+=("$build/${c%.c}.o")
    done
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "${objects[@]}"; do
    f=${o#"$build"/}
    f=${f%.o}.c
    nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 && $2 ~ /[TDBRC]/ {print $3, f}' >>"$tmp/defs"
    nm -u "$o" | awk -v f="$f" '{print $NF, f}' >>"$tmp/uses"
done
# caller callee pairs (file level)
sort -u "$tmp/defs" >"$tmp/defs.s"
sort -u "$tmp/uses" >"$tmp/uses.s"
join "$tmp/uses.s" "$tmp/defs.s" | awk '$2 != $3 {print $2, $3}' | sort -u >"$tmp/edges"

# 1. loops between files
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/tsort.err"; then
    echo "check_layers: files that call each other (a loop):"
    grep -v 'input contains a loop' "$tmp/tsort.err" | sed 's/^tsort: /  /'
    status=1
fi

# 2. library order
folder_of() { local d=${1%/*}; echo "$d"; }
while read -r from to; do
    a=$(folder_of "$from"); b=$(folder_of "$to")
    [ "$a" = "$b" ] && continue
    if [ -z "${rank[$a]:-}" ] || [ -z "${rank[$b]:-}" ] || [ "${rank[$a]}" -ge "${rank[$b]}" ]; then
        echo "check_layers: $from calls $to: $a/ may call only the libraries below it"
        status=1
    fi
done <"$tmp/edges"

# 3. one header per library folder
for lib in "${libs[@]}"; do
    n=$(find "$lib" -maxdepth 1 -name '*.h' | wc -l)
    if [ "$n" -ne 1 ]; then
        echo "check_layers: $lib/ has $n headers (one says what the library offers)"
        status=1
    fi
done

# 4. mutable state in the engine: symbols in .data, .bss or common (named OpenMP criticals included)
for o in "${objects[@]}"; do
    case $o in "$build"/engine/*) ;; *) continue ;; esac
    objdump -t "$o" | awk -v o="${o#"$build"/}" '$0 ~ /[ \t](\.data|\.bss|\*COM\*)[ \t]/ && $NF !~ /^\.(data|bss)/ {
        print "check_layers: " o ": mutable variable " $NF " (engine state belongs in sb_exec or its owner)"; bad = 1 }
        END { exit bad }' || status=1
done

# 5. no folder holds most of the code
total=0
declare -A lines
for lib in "${libs[@]}"; do
    n=$(cat "$lib"/*.c "$lib"/*.h 2>/dev/null | wc -l)
    lines[$lib]=$n
    total=$((total + n))
done
for lib in "${libs[@]}"; do
    if [ $((lines[$lib] * 100)) -gt $((total * 40)) ]; then
        echo "check_layers: $lib/ holds ${lines[$lib]} of $total lines (over 40 %): split it"
        status=1
    fi
done

[ $status -eq 0 ] && echo "check_layers: ${#libs[@]} libraries, $(wc -l <"$tmp/edges") file-level calls, no loop, all downward"
exit $status
