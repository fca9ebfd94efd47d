# Read after the project Makefile (make -f Makefile -f tests/bench/bench.mk):
# bench_wire is built with its CFLAGS and LDLIBS and linked against the
# same objects as the unit tests.
$(BUILD)/bench/bench_wire: tests/bench/bench_wire.c $(LIBOBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
