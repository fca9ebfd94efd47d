# Read after the project Makefile (make -f Makefile -f tests/bench/bench.mk):
# bench_wire is built with its CFLAGS and LDLIBS and linked against the
# same objects as the unit tests.
$(BUILD)/bench/bench_wire: tests/bench/bench_wire.c $(LIBOBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# bench_ring: a BPF producer into a running tracer's ring buffer.
$(BUILD)/bench/bench_ring.bpf.o: tests/bench/bench_ring.bpf.c bpf/valk_trace.h vmlinux/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPFCFLAGS) -I. -c $< -o $@

$(BUILD)/bench/bench_ring.skel.h: $(BUILD)/bench/bench_ring.bpf.o
	$(BPFTOOL) gen skeleton $< name bench_ring > $@.tmp && mv $@.tmp $@

$(BUILD)/bench/bench_ring: tests/bench/bench_ring.c $(BUILD)/bench/bench_ring.skel.h $(LIBOBJS)
	$(CC) $(CFLAGS) -I$(BUILD)/bench $(filter %.c %.o,$^) -o $@ $(LDLIBS)

# bench_floor: an empty program on valk-trace's own probe sites.
$(BUILD)/bench/bench_floor.bpf.o: tests/bench/bench_floor.bpf.c vmlinux/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPFCFLAGS) -c $< -o $@

$(BUILD)/bench/bench_floor.skel.h: $(BUILD)/bench/bench_floor.bpf.o
	$(BPFTOOL) gen skeleton $< name bench_floor > $@.tmp && mv $@.tmp $@

$(BUILD)/bench/bench_floor: tests/bench/bench_floor.c $(BUILD)/bench/bench_floor.skel.h
	$(CC) $(CFLAGS) -I$(BUILD)/bench $< -o $@ -lbpf -lelf -lz
