/* Escaping of client-supplied text for log lines. */
#include "autoconf.h"

#include "text.h"

#include <stdio.h>

char *text_escape(const char *in, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c > 0x20 && c < 0x7f && c != '\\') {
			if (n + 1 >= outlen)
				break;
			out[n++] = (char)c;
		} else {
			if (n + 4 >= outlen)
				break;
			n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", c);
		}
	}
	out[n] = '\0';
	return out;
}
