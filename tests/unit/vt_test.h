/* Minimal unit-test helpers: CHECK records a failure and goes on;
 * vt_test_done() prints the tally and returns the exit code. */
#ifndef VT_TEST_H
#define VT_TEST_H
#include <stdio.h>
#include <string.h>

static int vt_test_failures, vt_test_checks;

#define CHECK(cond)                                                          \
	do {                                                                 \
		vt_test_checks++;                                            \
		if (!(cond)) {                                               \
			vt_test_failures++;                                  \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",         \
				__FILE__, __LINE__, #cond);                  \
		}                                                            \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                   \
	do {                                                                 \
		unsigned long long _a = (a), _b = (b);                       \
		vt_test_checks++;                                            \
		if (_a != _b) {                                              \
			vt_test_failures++;                                  \
			fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);         \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *_a = (a), *_b = (b);                             \
		vt_test_checks++;                                            \
		if (!_a || !_b || strcmp(_a, _b)) {                          \
			vt_test_failures++;                                  \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, _a ? _a : "(null)",  \
				_b ? _b : "(null)");                         \
		}                                                            \
	} while (0)

static inline int vt_test_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, vt_test_checks,
	       vt_test_failures);
	return vt_test_failures ? 1 : 0;
}
#endif
