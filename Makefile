# smx — the commands a newcomer and CI use. Every target installs missing Debian
# packages first (tools/setup is silent when nothing is missing).

SWIFT ?= swift

.PHONY: setup build test bench bench-quick fuzz soak clean

setup:
	@tools/setup

build: setup
	$(SWIFT) build

# Builds and runs every test, including the crash campaigns on the simulated file layer
# and the replay of every saved fuzz regression input (FuzzRegressionTests reads
# FuzzTests/Regressions/ and FuzzTests/Corpus/). Release build: the crash campaign
# recovers some 20,000 crash images and takes minutes there, far longer in debug.
# For a quick debug loop: swift test --skip IncomingLogCrashTests
test: setup
	$(SWIFT) build -c release --build-tests
	$(SWIFT) test -c release --skip-build

# Release-built benchmarks on the real disk; one JSON object per suite on stdout.
bench: setup
	$(SWIFT) run -c release --package-path Benchmarks smx-bench ibdb --json
	$(SWIFT) run -c release --package-path Benchmarks smx-bench cdb --json
	$(SWIFT) run -c release --package-path Benchmarks smx-bench defedb --json
	$(SWIFT) run -c release --package-path Benchmarks smx-bench qmgr --json

bench-quick: setup
	$(SWIFT) run -c release --package-path Benchmarks smx-bench ibdb --json --quick
	$(SWIFT) run -c release --package-path Benchmarks smx-bench cdb --json --quick
	$(SWIFT) run -c release --package-path Benchmarks smx-bench defedb --json --quick
	$(SWIFT) run -c release --package-path Benchmarks smx-bench qmgr --json --quick

# libFuzzer on every decoder, FUZZ_SECONDS (default 60) each; crashes are kept in
# FuzzTests/Regressions/ and replayed by `make test`.
fuzz: setup
	tools/fuzz

# Long crash campaigns (many seeds, bigger workloads), release build; among them the queue
# manager's simulation (QueueManagerSimulationSoakTests: 500 seeds, over 100,000 messages,
# totals in one line). Replay one failing seed with the line it prints, e.g.
# SMX_SIM_SEED=1234 SMX_SIM_MESSAGES=220 swift test -c release --filter QueueManagerSimulation
soak: setup
	SMX_SOAK=1 $(SWIFT) test -c release --filter Soak

clean:
	rm -rf .build Benchmarks/.build FuzzTests/.build FuzzTests/.build-fuzz
