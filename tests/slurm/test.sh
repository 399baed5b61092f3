#!/usr/bin/env bash
# test.sh — `make test-slurm`: sweeps and probes as Slurm job arrays on a real two-node cluster started on this
# machine (tests/slurm/cluster.sh), stopped again however the tests end.
#
#   1. the smoke sweep through --slurm --tasks 2 --wait gives exactly the keys of a run on one machine, from
#      both nodes, each record naming its node, job and array task;
#   2. a task killed (kill -9) mid-run requeues itself, resumes its shard, and the run completes with nothing
#      lost or duplicated;
#   3. a task that fails makes --wait fail naming the missing points, status shows the task's error line, and
#      --resume resubmits that shard only;
#   4. --dry-run prints the scripts (exclusive nodes for a timing sweep, not for a probe) and submits nothing;
#   5. a probe through --slurm --tasks 2 --wait records every point it planned, each with its learning curve.
#
# The tasks run one thread each (--cpus-per-task 1): the two nodes share this machine's cores, and two
# two-thread tasks would only measure each other. Where the cluster cannot start (not root, Slurm missing) the
# tests are skipped with the reason, unless SHAPEBENCH_REQUIRE_SLURM=1 (CI) makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${SHAPEBENCH_BIN:-bin/shapebench}")
work=$(mktemp -d /tmp/shapebench-slurm-test.XXXXXX)
chmod 755 "$work"
cluster=$work/cluster
failures=0

cleanup() {
    tests/slurm/cluster.sh stop "$cluster" || true
    if [ "$failures" = 0 ]; then rm -rf "$work"; else echo "the failed tests' folders are kept in $work" >&2; fi
}
trap cleanup EXIT

pass() { echo "ok ($SECONDS s): $*"; }
fail() { echo "FAIL ($SECONDS s): $*" >&2; failures=$((failures + 1)); }
# check WHAT FILE COMMAND...: passes when the command succeeds, else fails showing FILE (when not empty).
check() {
    local what=$1 show=$2
    shift 2
    if "$@"; then pass "$what"; else fail "$what"; if [ -n "$show" ]; then cat "$show" >&2; fi; fi
}
# The sorted keys of a results folder (results.csv's first column).
keys() { tail -n +2 "$1/results.csv" | cut -d, -f1 | sort; }
same_keys() { keys "$1" | cmp -s - "$work/plain.keys"; }
# The values of a CSV column of a results folder, sorted and unique, on one line.
column() {
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }' \
        "$1/results.csv" | sort -u | tr '\n' ' '
}
wait_until() { # seconds, what, command...
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 5))); do
        if "$@"; then return 0; fi
        sleep 0.2
    done
    fail "$what did not happen within $seconds s"
    return 1
}
sweep() { timeout 600 "$bin" sweep --preset smoke --slurm --tasks 2 --cpus-per-task 1 "$@"; }

set +e
start_out=$(tests/slurm/cluster.sh start "$cluster" 2>&1)
rc=$?
set -e
if [ $rc = 77 ]; then
    echo "$start_out" >&2
    if [ "${SHAPEBENCH_REQUIRE_SLURM:-0}" = 1 ]; then echo "FAIL: the Slurm tests must run here" >&2; exit 1; fi
    echo "SKIP: the Slurm tests (the reason above)"
    exit 0
fi
[ $rc = 0 ] || { echo "$start_out" >&2; echo "FAIL: the local cluster did not start" >&2; exit 1; }
export SLURM_CONF=$cluster/slurm.conf
echo "local cluster up ($SECONDS s): $(sinfo -h -N -o '%N %t %c CPUs' | tr '\n' ';')"

if ! "$bin" sweep --preset smoke --threads 1 --out "$work/plain" >"$work/plain.log" 2>&1; then
    cat "$work/plain.log" >&2
    exit 1
fi
keys "$work/plain" >"$work/plain.keys"
[ "$(wc -l <"$work/plain.keys")" = 12 ] || fail "the plain smoke sweep has $(wc -l <"$work/plain.keys") keys, not 12"
pass "the smoke sweep on this machine"

# ---- 1. the keys of one machine, from two nodes -------------------------------------------------------------
carries_ids() { grep -q '"slurm_array_task_id":1' "$1" && grep -q '"slurm_job_id":[0-9]' "$1"; }
complete() { "$bin" status "$1" >"$1.status" 2>&1 && grep -q "12 of 12 planned points recorded" "$1.status"; }
if sweep --wait --out "$work/a" >"$work/a.log" 2>&1; then
    check "--slurm --tasks 2 --wait: the keys of the plain run" "" same_keys "$work/a"
    check "records from both nodes ($(column "$work/a" node))" "" test "$(column "$work/a" node)" = "n1 n2 "
    check "records carry their job and array task" "" carries_ids "$work/a/results.jsonl"
    check "the merge job wrote the report" "" test -s "$work/a/REPORT.md"
    check "status: 12 of 12" "$work/a.status" complete "$work/a"
else
    fail "--slurm --tasks 2 --wait failed:"
    cat "$work/a.log" >&2
fi

# ---- 2. a task killed mid-run: requeued, resumed, nothing lost or duplicated ---------------------------------
sweep --wait --out "$work/b" >"$work/b.log" 2>&1 &
waiter=$!
wait_until 60 "the plan" test -s "$work/b/slurm/plan.json"
# The shard with more points, killed once its first point is recorded.
big=$(wc -l "$work"/b/shard-*/points.tsv | sort -n | sed -n 's|.*/\(shard-[0-9]*of2\)/points.tsv$|\1|p' | tail -1)
shard=${big#shard-}
shard=${shard%of2}
array=$(sed -n 's/.*"array_job":[[:space:]]*\([0-9]*\).*/\1/p' "$work/b/slurm/plan.json" | head -1)
task=${array}_$((shard - 1))
log=$work/b/slurm/logs/$task.out
held() { squeue -h -r -t PENDING -j "$array" -o '%i %r' 2>/dev/null | grep -q "^$task BeginTime"; }
shows_held() { "$bin" status "$work/b" >"$work/b.status" 2>&1 && grep -q "PENDING (BeginTime)" "$work/b.status"; }
if wait_until 120 "a first record of $big" test -s "$work/b/$big/results.jsonl"; then
    pid=$(sed -n 's/^shapebench task: pid //p' "$log" | tail -1)
    kill -9 "$pid"
    echo "killed pid $pid, the command of task $task"
    # Slurm holds a requeued task for a while (BeginTime): release it.
    if wait_until 60 "the task's requeue" held; then
        check "status shows the requeued task held" "$work/b.status" shows_held
        scontrol update JobId="$task" StartTime=now
    fi
fi
no_duplicates() {
    [ "$(tail -n +2 "$work/b/results.csv" | wc -l)" = 12 ] && [ "$(cat "$work"/b/shard-*/results.jsonl | wc -l)" = 12 ]
}
resumed() { grep -q "restart 1" "$log" && grep -q "resuming .*: [1-9][0-9]* of [0-9]* already measured" "$log"; }
if wait "$waiter"; then
    check "killed and requeued: the keys of the plain run" "" same_keys "$work/b"
    check "nothing duplicated: 12 records merged, 12 in the shards" "" no_duplicates
    check "the restarted task resumed its shard" "$log" resumed
else
    fail "the killed run's --wait failed:"
    cat "$work/b.log" >&2
fi

# ---- 3. a failed task: --wait fails, status names the error, --resume resubmits that shard only --------------
names_missing() { grep -q "missing (shard 2)" "$1" && grep -q "points are missing" "$1"; }
names_error() {
    ! "$bin" status "$work/c" --check >"$work/c.status" 2>&1 &&
        grep -q "failed: shapebench sweep: cannot open .*results.jsonl.*Is a directory" "$work/c.status"
}
resubmitted_one() {
    grep -q "resubmitting 1 of 2 shards" "$work/c2.log" &&
        grep -q '"shards":[[:space:]]*\[2\]' "$work/c/slurm/plan.json"
}
nothing_to_do() {
    "$bin" sweep --slurm --resume "$work/c" >"$work/c3.log" 2>&1 && grep -q "nothing to resubmit" "$work/c3.log"
}
mkdir -p "$work/c/shard-2of2/results.jsonl" # a folder where the shard's file goes: its task cannot open it
if sweep --wait --out "$work/c" >"$work/c.log" 2>&1; then
    fail "--wait succeeded with a shard's points missing"
else
    check "--wait fails and names the missing points" "$work/c.log" names_missing "$work/c.log"
fi
check "status --check: exit 1 and the failed task's error line" "$work/c.status" names_error
rmdir "$work/c/shard-2of2/results.jsonl"
if timeout 600 "$bin" sweep --slurm --resume "$work/c" --wait >"$work/c2.log" 2>&1; then
    check "--resume resubmits the one incomplete shard" "$work/c2.log" resubmitted_one
    check "resumed: the keys of the plain run" "" same_keys "$work/c"
    check "--resume of a complete run submits nothing" "$work/c3.log" nothing_to_do
else
    fail "--resume --wait failed:"
    cat "$work/c2.log" >&2
fi

# ---- 4. --dry-run ---------------------------------------------------------------------------------------------
sweep_script() {
    # shellcheck disable=SC2016 # the script's own $shard, literally
    "$bin" sweep --preset smoke --slurm --tasks 2 --dry-run --out "$work/d" >"$work/d.out" 2>&1 &&
        grep -q '^#SBATCH --exclusive' "$work/d.out" && grep -q -- '--shard "$shard/2"' "$work/d.out" &&
        grep -q '^sbatch --parsable --array=0-1 ' "$work/d.out" && [ ! -e "$work/d" ]
}
probe_script() {
    "$bin" probe --preset probe-smoke --slurm --tasks 3 --dry-run --out "$work/e" >"$work/e.out" 2>&1 &&
        grep -q "'probe' 't5-efficient-tiny' 't5-efficient-small-dm128'" "$work/e.out" && ! grep -q '^#SBATCH --exclusive' "$work/e.out" &&
        grep -q '^sbatch --parsable --array=0-2 ' "$work/e.out"
}
check "sweep --dry-run: an exclusive array script, the CPUs from sinfo, nothing written" "$work/d.out" sweep_script
check "probe --dry-run: the probe's command, nodes shared" "$work/e.out" probe_script

# ---- 5. a probe as a job array -------------------------------------------------------------------------------
planned_recorded() { cut -f1 "$work/p/points.tsv" | sort | cmp -s - <(keys "$work/p"); }
curves() { [ "$(grep -c '"curve":\[' "$work/p/results.jsonl")" = 3 ]; }
if timeout 600 "$bin" probe --preset probe-smoke --budget 5e10 --slurm --tasks 2 --cpus-per-task 1 --wait \
    --out "$work/p" >"$work/p.log" 2>&1; then
    check "probe --slurm --tasks 2 --wait: every planned point recorded ($(keys "$work/p" | wc -l) of 3)" \
        "$work/p.log" planned_recorded
    check "each probe record carries its learning curve" "" curves
else
    fail "probe --slurm --tasks 2 --wait failed:"
    cat "$work/p.log" >&2
fi

[ "$failures" = 0 ] || { echo "$failures Slurm test(s) failed" >&2; exit 1; }
echo "all Slurm tests passed in $SECONDS s"
