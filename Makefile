# valk-trace — `make` builds build/valk-trace and the stand-in runtime,
# `make test` runs every test, `make deps` installs the Debian packages.
BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
CFLAGS    += $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(BUILD) -iquote userspace -iquote .
LDLIBS    := -lbpf -lelf -lz -luv -lnghttp2 -ljansson -ldw -lhttp_parser -lm
BPFCFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Ivmlinux

# The source's layers, bottom to top (docs/architecture.md).
LAYERS    := model target probe wire serve cli
SRCS      := $(foreach l,$(LAYERS),$(wildcard userspace/$(l)/*.c))
OBJS      := $(SRCS:userspace/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/serve/vt_web_assets.o
LIBOBJS   := $(filter-out $(BUILD)/obj/cli/main.o,$(OBJS))
WEB       := $(wildcard web/*)
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps test demo bench clean fixture vmlinux
all: $(BUILD)/valk-trace fixture

deps:
	scripts/deps.sh

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

fixture:
	$(MAKE) -C tests/fixture O=$(abspath $(BUILD))/fixture

# The two set-up commands of the README: each installs what is missing,
# builds, then runs.
test:
	scripts/deps.sh
	$(MAKE) all $(TESTS)
	tests/run.sh

demo:
	scripts/deps.sh
	$(MAKE) all
	$(BUILD)/valk-trace demo

bench: all
	tests/bench/run.sh

# Regenerate the committed vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(TESTS:=.d)
