build-asan/obj/target/vt_site.o: userspace/target/vt_site.c \
 userspace/target/vt_site.h userspace/target/vt_target.h
userspace/target/vt_site.h:
userspace/target/vt_target.h:
