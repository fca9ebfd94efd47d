build-asan/obj/serve/vt_web.o: userspace/serve/vt_web.c \
 userspace/serve/vt_web.h
userspace/serve/vt_web.h:
