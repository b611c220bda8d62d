/*
 * fuzz_media.c — fm_media_type, the media type fmasd reads off a request's
 * Content-Type header.
 *
 * Input: byte 0 picks the size of the output buffer (1..128; fmasd's is
 * 128), the rest is the header value up to its first NUL (libmicrohttpd
 * hands headers over as C strings). The buffer is allocated at exactly that
 * size, so a write past it is an AddressSanitizer report. Checked: the
 * result is the lower-cased text of the header after its leading spaces
 * and tabs, up to ';', a space, a tab or the end, cut only at size - 1
 * bytes; it holds no upper-case letter, ';', space or tab; and reading it
 * again gives itself.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ends_type(char c)
{
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

static void fail(const char *what, const char *header, const char *out)
{
    fprintf(stderr, "fuzz: fm_media_type: %s (header \"%s\", type \"%s\")\n", what, header, out);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cap = (size_t)data[0] % 128 + 1;
    char *header = malloc(size);
    char *out = malloc(cap), *again = malloc(cap);
    if (!header || !out || !again)
        abort();
    memcpy(header, data + 1, size - 1);
    header[size - 1] = '\0';

    fm_media_type(header, out, cap);
    size_t n = strlen(out); /* past cap: ASan reports the read */
    if (n >= cap)
        fail("longer than its buffer", header, out);
    const char *h = header;
    while (*h == ' ' || *h == '\t')
        h++;
    for (size_t i = 0; i < n; i++) {
        if (ends_type(h[i]) || out[i] != (char)tolower((unsigned char)h[i]))
            fail("not the header's lower-cased type", header, out);
        if (isupper((unsigned char)out[i]) || ends_type(out[i]))
            fail("upper case, ';' or blank in the type", header, out);
    }
    if (n + 1 < cap && !ends_type(h[n]))
        fail("cut before its end", header, out);

    fm_media_type(out, again, cap);
    if (strcmp(out, again) != 0)
        fail("reading it again changes it", header, out);
    /* NULL is no header. */
    fm_media_type(NULL, again, cap);
    if (again[0])
        fail("a type for no header", "(null)", again);
    free(header);
    free(out);
    free(again);
    return 0;
}
