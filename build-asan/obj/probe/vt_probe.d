build-asan/obj/probe/vt_probe.o: userspace/probe/vt_probe.c \
 userspace/probe/vt_probe.h bpf/valk_trace.h userspace/probe/vt_calib.h \
 userspace/probe/vt_ulink.h build-asan/valk_trace.skel.h
userspace/probe/vt_probe.h:
bpf/valk_trace.h:
userspace/probe/vt_calib.h:
userspace/probe/vt_ulink.h:
build-asan/valk_trace.skel.h:
