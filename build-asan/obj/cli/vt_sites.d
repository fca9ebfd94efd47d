build-asan/obj/cli/vt_sites.o: userspace/cli/vt_sites.c \
 userspace/cli/vt_sites.h userspace/probe/vt_probe.h bpf/valk_trace.h \
 userspace/target/vt_site.h userspace/target/vt_target.h \
 userspace/wire/vt_wire.h userspace/model/vt_state.h
userspace/cli/vt_sites.h:
userspace/probe/vt_probe.h:
bpf/valk_trace.h:
userspace/target/vt_site.h:
userspace/target/vt_target.h:
userspace/wire/vt_wire.h:
userspace/model/vt_state.h:
