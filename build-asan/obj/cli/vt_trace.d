build-asan/obj/cli/vt_trace.o: userspace/cli/vt_trace.c \
 userspace/cli/vt_trace.h userspace/cli/vt_file.h \
 userspace/cli/vt_record.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/wire/vt_rec.h userspace/cli/vt_sites.h \
 userspace/probe/vt_probe.h userspace/target/vt_site.h \
 userspace/target/vt_target.h userspace/wire/vt_wire.h \
 userspace/target/vt_layout.h userspace/target/vt_proc.h \
 userspace/serve/vt_routes.h userspace/target/vt_snap.h
userspace/cli/vt_trace.h:
userspace/cli/vt_file.h:
userspace/cli/vt_record.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/wire/vt_rec.h:
userspace/cli/vt_sites.h:
userspace/probe/vt_probe.h:
userspace/target/vt_site.h:
userspace/target/vt_target.h:
userspace/wire/vt_wire.h:
userspace/target/vt_layout.h:
userspace/target/vt_proc.h:
userspace/serve/vt_routes.h:
userspace/target/vt_snap.h:
