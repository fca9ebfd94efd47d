/* vt_buf: how the wire layer's append buffers grow (the encoders' text in
 * vt_wire_json, the recording's records in vt_rec): the capacity doubles
 * from `first` until `need` bytes fit. */
#ifndef VT_BUF_H
#define VT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* true with *p holding at least need bytes, or false with *p and *cap as
 * they were (out of memory). */
static inline bool vt_buf_reserve(void **p, size_t *cap, size_t need,
				  size_t first)
{
	size_t c = *cap ? *cap : first;
	void *q;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	q = realloc(*p, c);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

#endif /* VT_BUF_H */
