# Skiff: the two commands a new user runs are `make run` and `make test`.
export PATH := /usr/local/go/bin:$(PATH)

BIN := bin/skiff
DATA_DIR ?= /var/lib/skiff

.PHONY: deps deps-run build run test unit e2e vet bench

deps:
	./hack/deps.sh

build:
	go build -o $(BIN) ./cmd/skiff

deps-run:
	./hack/deps.sh --run

# Installs what is missing, builds, and starts a single-node cluster.
# kubectl is not needed to start it (deps only warns); Go newer than
# Debian's must be installed by hand (deps says so).
run: deps-run build
	@echo "kubeconfig: $(DATA_DIR)/admin.kubeconfig (export KUBECONFIG=$(DATA_DIR)/admin.kubeconfig)"
	$(BIN) server --data-dir $(DATA_DIR)

vet:
	@test -z "$$(gofmt -l cmd internal test)" || { gofmt -l cmd internal test; exit 1; }
	go vet ./...

# Every test: unit and integration tests with the race detector, then the
# end-to-end suites with the real binary and kubectl: one server, one node
# (containerd), and three nodes in network namespaces.
test: deps vet
	go test -race -count=1 ./cmd/... ./internal/... ./test/integration/...
	go test -count=1 ./test/e2e/...
	go test -count=1 ./test/node/...
	go test -count=1 ./test/cluster/...

bench: build
	$(BIN) bench

# Upstream's conformance specs against a three-node cluster in network
# namespaces (not part of `make test`: the suite takes ~20 minutes to build
# the first time and hours to run in full). FOCUS is a regex such as
# '\[sig-network\]'; empty runs every conformance spec.
CONFORMANCE_WORK ?= /tmp/conformance
CONFORMANCE_KIT ?= ../shared/conformance
FOCUS ?=
NAME ?= run
conformance: build
	bash $(CONFORMANCE_KIT)/build.sh $(CONFORMANCE_WORK)
	bash $(CONFORMANCE_KIT)/images.sh $(CONFORMANCE_WORK)
# glibc-dns-testing (the DNS specs' dig/getent image): a stand-in built here, since no
# registry is reachable to pull upstream's; see hack/conformance-images/build.sh.
	CONFORMANCE_KIT=$(CONFORMANCE_KIT) bash hack/conformance-images/build.sh $(CONFORMANCE_WORK)
	IMAGES=$(CONFORMANCE_WORK)/images hack/netns-cluster.sh up
	-hack/netns-cluster.sh exec bash $(CONFORMANCE_KIT)/run.sh $(CONFORMANCE_WORK) \
		$${SKIFF_NETNS_DIR:-/tmp/skiff-netns}/srv/admin.kubeconfig $(NAME) '$(FOCUS)' 3 6h
	hack/netns-cluster.sh down
	go run ./hack/conformance-summary $(CONFORMANCE_WORK)/results/$(NAME)/report.json
