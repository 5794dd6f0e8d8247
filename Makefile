# Vigil: the two commands every new user runs are `make run` and `make test`.
# Everything else here is a convenience around CMake in build/ (release,
# gcc) and build-asan/ (clang-14, ASan+UBSan, libFuzzer targets).

JOBS      ?= $(shell nproc)
BUILD     ?= build
ASAN      ?= build-asan
CLANG     ?= clang-14
FUZZ_SECS ?= 20
# `make fuzz` runs each fuzz target this long (seconds)
FUZZ_LONG ?= 600
HTTP      ?= 127.0.0.1:8080
DATA_DIR  ?= var

.PHONY: all deps build asan run test test-fast bench fuzz format clean help dashboard

all: build

help:
	@echo "make run     install deps, build, start a node + gateway on $(HTTP) with demo traffic"
	@echo "make cluster install deps, build, start N=3 nodes + a gateway on $(HTTP) in the background (ops/cluster.sh stop)"
	@echo "make test    install deps, build normal + ASan/UBSan builds, run the whole suite"
	@echo "make bench   build and run the benchmarks in tests/bench/ (figures printed)"
	@echo "make fuzz    run every libFuzzer target for FUZZ_LONG=$(FUZZ_LONG) seconds"
	@echo "make format  apply .clang-format to the C sources"
	@echo "make dashboard  build the dashboard (frontend/ → frontend/dist; part of make build)"
	@echo "make clean   remove build directories"

deps:
	@ops/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN)/CMakeCache.txt:
	CC=$(CLANG) cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DVG_SANITIZE=ON \
	    -DVG_FUZZ=ON -DVG_FUZZ_SECONDS=$(FUZZ_SECS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	@$(MAKE) --no-print-directory dashboard

# The dashboard (frontend/, TypeScript + Vite) into frontend/dist, which the
# gateway serves at /: `npm ci` only when node_modules is missing or older
# than package-lock.json, then `npm run build`. Skipped (with a note) without
# npm or with a Node.js older than 20.19 (Vite 7 needs it).
dashboard:
	@if ! command -v npm >/dev/null 2>&1; then \
	    echo "dashboard: npm not found: frontend/dist not built (ops/install-deps.sh installs Node.js)"; \
	elif ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a==20&&b>=19)?0:1)'; then \
	    echo "dashboard: Node.js $$(node --version) is older than 20.19: frontend/dist not built"; \
	else \
	    cd frontend && \
	    { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || \
	      npm ci --no-audit --no-fund; } && \
	    npm run build --silent; \
	fi

asan: $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j $(JOBS)

run: deps build
	@ops/run-local.sh --build $(BUILD) --http $(HTTP) --data-dir $(DATA_DIR)

# A local cluster (ops/cluster.sh): N nodes + a gateway, state and logs in
# var/cluster/; returns once it is up, `ops/cluster.sh stop` stops it.
.PHONY: cluster
cluster: deps build
	@ops/cluster.sh --build $(BUILD) --http $(HTTP) start $(or $(N),3)

# The whole suite: normal build first, then the sanitizer build (which also
# runs each fuzz target for FUZZ_SECS). Output ends with ctest's summary.
test: deps build asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE fuzz
	cd $(ASAN) && ctest --output-on-failure -j $(JOBS)

# Normal build only, no sanitizers or fuzzing: the quick inner loop.
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE fuzz

bench: deps build
	@ops/bench.sh $(BUILD)

fuzz: deps asan
	@for f in $(ASAN)/fuzz/*; do \
	    [ -x "$$f" ] || continue; n=$$(basename $$f); \
	    mkdir -p $(ASAN)/fuzz/$$n.corpus; \
	    echo "== $$n ($(FUZZ_LONG)s)"; \
	    $$f -max_total_time=$(FUZZ_LONG) -timeout=10 -print_final_stats=1 \
	        $(ASAN)/fuzz/$$n.corpus tests/fuzz/corpus/$$n || exit 1; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN) frontend/dist
