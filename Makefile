# smx — the commands a newcomer and CI use. Every target installs missing Debian
# packages first (tools/setup is silent when nothing is missing).

SWIFT ?= swift

.PHONY: setup build test bench bench-quick fuzz soak clean

setup:
	@tools/setup

build: setup
	$(SWIFT) build

# Builds and runs every test, including the replay of every saved fuzz regression input
# (Tests/SMXStoreTests/FuzzRegressionTests.swift reads FuzzTests/Regressions/ and Corpus/).
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Release-built benchmarks on the real disk; one JSON object per suite on stdout.
bench: setup
	$(SWIFT) run -c release --package-path Benchmarks smx-bench ibdb --json

bench-quick: setup
	$(SWIFT) run -c release --package-path Benchmarks smx-bench ibdb --json --quick

# libFuzzer on every decoder, FUZZ_SECONDS (default 60) each; crashes are kept in
# FuzzTests/Regressions/ and replayed by `make test`.
fuzz: setup
	tools/fuzz

# Long crash campaigns (many seeds, bigger workloads), release build.
soak: setup
	SMX_SOAK=1 $(SWIFT) test -c release --filter Soak

clean:
	rm -rf .build Benchmarks/.build FuzzTests/.build FuzzTests/.build-fuzz
