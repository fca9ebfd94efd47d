build-asan/obj/probe/vt_ulink.o: userspace/probe/vt_ulink.c \
 userspace/probe/vt_ulink.h
userspace/probe/vt_ulink.h:
