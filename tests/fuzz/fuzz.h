/*
 * fuzz.h - what every libFuzzer target in tests/fuzz/ shares.
 *
 * FUZZ_CHECK() states an invariant of the code under test; a violation is a
 * crash for libFuzzer (abort), so the input is kept as an artifact.  The
 * message goes through the sanitizer's report channel, which stays open
 * when the target runs with -close_fd_mask=2 (fuzz_options does, to silence
 * the "bad option" lines that the parser prints for most inputs).
 */
#ifndef LOCKFS_FUZZ_H
#define LOCKFS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/common_interface_defs.h>

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			__sanitizer_report_error_summary(                      \
			    "lockfs fuzz invariant failed: " __FILE__          \
			    ":" FUZZ_STR(__LINE__) ": " #cond);                \
			abort();                                               \
		}                                                              \
	} while (0)
#define FUZZ_STR(x) FUZZ_STR2(x)
#define FUZZ_STR2(x) #x

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Copies of the `size` input bytes, malloc'd, owned by the caller.
 * fuzz_exact() has exactly `size` bytes: the parsers take (pointer, length)
 * and must not read past the length, which AddressSanitizer then catches
 * on the heap redzone.  fuzz_cstr() has a NUL after them, for the
 * functions that take C strings.
 */
static inline char *fuzz_exact(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);

	if (s == NULL)
		abort();
	if (size)
		memcpy(s, data, size);
	return s;
}

static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
