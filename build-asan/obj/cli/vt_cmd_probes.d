build-asan/obj/cli/vt_cmd_probes.o: userspace/cli/vt_cmd_probes.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h userspace/cli/vt_sites.h \
 userspace/probe/vt_probe.h bpf/valk_trace.h userspace/target/vt_site.h \
 userspace/target/vt_target.h userspace/wire/vt_wire.h \
 userspace/model/vt_state.h userspace/target/vt_layout.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:
userspace/cli/vt_sites.h:
userspace/probe/vt_probe.h:
bpf/valk_trace.h:
userspace/target/vt_site.h:
userspace/target/vt_target.h:
userspace/wire/vt_wire.h:
userspace/model/vt_state.h:
userspace/target/vt_layout.h:
