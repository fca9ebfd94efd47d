build-asan/obj/target/vt_layout.o: userspace/target/vt_layout.c \
 userspace/target/vt_layout.h userspace/target/vt_target.h
userspace/target/vt_layout.h:
userspace/target/vt_target.h:
