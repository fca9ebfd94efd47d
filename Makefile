# valk-trace — `make` builds build/valk-trace and the stand-in runtime,
# `make test` runs every test, `make deps` installs the Debian packages,
# `make install` (PREFIX, DESTDIR) installs the tracer, its man page and
# its bash completion, `make deb` builds the Debian package.
BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
# The BPF side is compiled against one architecture's kernel types, and
# only x86's are committed (vmlinux/vmlinux.h): stop before a build that
# would fail obscurely elsewhere.
ifneq ($(ARCH),x86)
ifneq ($(filter-out clean deps,$(or $(MAKECMDGOALS),all)),)
$(error valk-trace builds on x86_64 only: vmlinux/vmlinux.h holds x86 kernel types, none for ARCH=$(ARCH); add vmlinux/$(ARCH)/vmlinux.h (bpftool btf dump file /sys/kernel/btf/vmlinux format c) and select it here)
endif
endif

WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
CFLAGS    += $(SAN) $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(BUILD) -iquote userspace -iquote .
LDLIBS    := -lbpf -lcapstone -lelf -lz -luv -lnghttp2 -ljansson -ldw -lhttp_parser -lssl -lcrypto -lm
BPFCFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Ivmlinux

# The source's layers, bottom to top (docs/architecture.md).
LAYERS    := model target probe wire serve cli
SRCS      := $(foreach l,$(LAYERS),$(wildcard userspace/$(l)/*.c))
OBJS      := $(SRCS:userspace/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/serve/vt_web_assets.o
LIBOBJS   := $(filter-out $(BUILD)/obj/cli/main.o,$(OBJS))
WEB       := $(wildcard web/*)
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TOOLS     := $(BUILD)/tests/vt-poke

FUZZERS   := $(addprefix $(BUILD)/fuzz/,fuzz_rec fuzz_http1 fuzz_http2 fuzz_tls fuzz_layout fuzz_image fuzz_figures)
FUZZ_SRCS := userspace/model/vt_state.c $(wildcard userspace/wire/vt_rec*.c) userspace/wire/vt_timeline.c
FUZZ_CC   := $(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
	     -fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE \
	     -iquote userspace -iquote .
SERVE_SRCS := $(addprefix userspace/serve/,vt_server.c vt_clients.c vt_http.c vt_http1.c vt_http2.c vt_sse.c vt_tls.c)
TARGET_SRCS := $(addprefix userspace/target/,vt_layout.c vt_target.c vt_proc.c vt_mem.c)

.PHONY: all deps test test-asan soak demo bench fuzz clean fixture vmlinux install uninstall deb
all: $(BUILD)/valk-trace fixture

PREFIX    ?= /usr/local
SBINDIR   := $(PREFIX)/sbin
MAN8DIR   := $(PREFIX)/share/man/man8
COMPDIR   := $(PREFIX)/share/bash-completion/completions
# Steps that need root run through sudo when not root and sudo exists.
AS_ROOT   := $(shell [ "$$(id -u)" -eq 0 ] || ! command -v sudo >/dev/null || echo sudo)

deps:
	$(AS_ROOT) scripts/deps.sh

$(BUILD)/valk_trace.bpf.o: bpf/valk_trace.bpf.c bpf/valk_trace.h vmlinux/vmlinux.h | $(BUILD)
	$(CLANG) $(BPFCFLAGS) -c $< -o $@

$(BUILD)/valk_trace.skel.h: $(BUILD)/valk_trace.bpf.o
	$(BPFTOOL) gen skeleton $< name valk_trace > $@.tmp && mv $@.tmp $@

# Dashboard assets are embedded with .incbin; rebuild when they change.
$(BUILD)/obj/serve/vt_web_assets.o: userspace/serve/vt_web_assets.S $(WEB)
	@mkdir -p $(@D)
	$(CC) -c -I. $< -o $@

$(BUILD)/obj/%.o: userspace/%.c $(BUILD)/valk_trace.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/valk-trace: $(OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBOBJS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -MMD -MP -Itests/unit $(filter %.c %.o,$^) -o $@ $(LDLIBS)

# Test helpers the end-to-end tests run (not tests themselves).
$(BUILD)/tests/vt-poke: tests/tools/vt_poke.c $(LIBOBJS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -MMD -MP $(filter %.c %.o,$^) -o $@ $(LDLIBS)

fixture:
	$(MAKE) -C tests/fixture O=$(abspath $(BUILD))/fixture

# The two set-up commands of the README: each installs what is missing,
# builds, then runs; as root, or as a user through sudo for the steps that
# need root (the build stays the user's).
test:
	$(AS_ROOT) scripts/deps.sh
	$(MAKE) all $(TESTS) $(TOOLS) $(if $(VT_SANITIZED),,$(FUZZERS))
	$(AS_ROOT) env VT_BUILD=$(abspath $(BUILD)) tests/run.sh

# The whole suite again, the collector, its tests and tools built with
# ASan and UBSan in $(BUILD)-asan (the stand-in runtime is built as usual:
# it is the traced program, not the tracer). Any finding fails its test.
# Tests that run nothing of the sanitized build skip (the fuzzers are
# sanitized builds already and run in make test: not built again).
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# Ten minutes of the http workload with 10 SSE clients (tests/soak).
soak: all
	$(AS_ROOT) env VT_BUILD=$(abspath $(BUILD)) tests/soak/soak.sh 600

# Memory bounds of tests are those of the plain build (VT_SANITIZED).
test-asan:
	+VT_SANITIZED=1 $(MAKE) test BUILD=$(BUILD)-asan SAN="$(ASAN_FLAGS)"

demo:
	$(AS_ROOT) scripts/deps.sh
	$(MAKE) all
	$(AS_ROOT) $(BUILD)/valk-trace demo

# The man page is made from the binary's --help (scripts/man.sh).
$(BUILD)/valk-trace.8: $(BUILD)/valk-trace scripts/man.sh
	scripts/man.sh $(BUILD)/valk-trace > $@.tmp && mv $@.tmp $@

install: $(BUILD)/valk-trace $(BUILD)/valk-trace.8
	install -D -m 0755 $(BUILD)/valk-trace $(DESTDIR)$(SBINDIR)/valk-trace
	install -D -m 0644 $(BUILD)/valk-trace.8 $(DESTDIR)$(MAN8DIR)/valk-trace.8
	install -D -m 0644 scripts/valk-trace.bash $(DESTDIR)$(COMPDIR)/valk-trace

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/valk-trace $(DESTDIR)$(MAN8DIR)/valk-trace.8 \
	      $(DESTDIR)$(COMPDIR)/valk-trace

# build/valk-trace_VERSION_ARCH.deb (scripts/deb.sh)
deb: $(BUILD)/valk-trace $(BUILD)/valk-trace.8
	+scripts/deb.sh $(BUILD)

# The recording reader under libFuzzer, ASan and UBSan (the suite runs it
# for 30 s; this for 10 minutes).
$(BUILD)/fuzz/fuzz_rec: tests/fuzz/fuzz_rec.c $(FUZZ_SRCS) $(wildcard userspace/wire/vt_rec*.h) userspace/wire/vt_timeline.h userspace/model/vt_state.h userspace/model/vt_report.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter %.c,$^) -o $@ -lz -ljansson

# The server's request path, HTTP/2 frames, TLS records and sessions, the
# layout reader, the memory-image decoder and the figures reader, the same way
# (tests/fuzz/run.sh).
$(BUILD)/fuzz/fuzz_http1: tests/fuzz/fuzz_http.c $(SERVE_SRCS) $(wildcard userspace/serve/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter %.c,$^) -o $@ -luv -lnghttp2 -lhttp_parser -lssl -lcrypto

$(BUILD)/fuzz/fuzz_http2: tests/fuzz/fuzz_http.c $(SERVE_SRCS) $(wildcard userspace/serve/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -DVT_FUZZ_H2 $(filter %.c,$^) -o $@ -luv -lnghttp2 -lhttp_parser -lssl -lcrypto

$(BUILD)/fuzz/fuzz_tls: tests/fuzz/fuzz_http.c $(SERVE_SRCS) $(wildcard userspace/serve/*.h) tests/lib/vt_test_cert.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -DVT_FUZZ_TLS $(filter %.c,$^) -o $@ -luv -lnghttp2 -lhttp_parser -lssl -lcrypto

$(BUILD)/fuzz/fuzz_layout: tests/fuzz/fuzz_layout.c $(TARGET_SRCS) $(wildcard userspace/target/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter %.c,$^) -o $@ -ljansson -ldw -lelf

$(BUILD)/fuzz/fuzz_image: tests/fuzz/fuzz_image.c tests/fuzz/vt_fuzz_map.h $(TARGET_SRCS) userspace/target/vt_snap.c userspace/model/vt_state.c $(wildcard userspace/target/*.h) userspace/model/vt_state.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter %.c,$^) -o $@ -ljansson -ldw -lelf

# The runtime's own figures (vt_figures) read from random "target memory",
# then put in the runtime's JSON shapes.
$(BUILD)/fuzz/fuzz_figures: tests/fuzz/fuzz_figures.c tests/fuzz/vt_fuzz_map.h $(TARGET_SRCS) userspace/target/vt_figures.c userspace/model/vt_state.c userspace/wire/vt_wire_figures.c $(wildcard userspace/target/*.h) userspace/model/vt_state.h userspace/wire/vt_wire_figures.h tests/lib/vt_fig_image.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter %.c,$^) -o $@ -ljansson -ldw -lelf

fuzz: $(FUZZERS) $(BUILD)/tests/test_rec
	tests/fuzz/run.sh 600

bench: all
	$(AS_ROOT) tests/bench/run.sh

# Regenerate the committed vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(TESTS:=.d) $(TOOLS:=.d)
