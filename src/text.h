/* Text helpers for untrusted bytes that end up in logs. Pure, thread-safe. */
#ifndef SOCKSGATE_TEXT_H
#define SOCKSGATE_TEXT_H

#include <stddef.h>

/* Copies len bytes of in to out, writing every byte outside printable ASCII,
 * the space and the backslash as \xNN, so client-chosen names can neither
 * forge log lines nor break "key=value" fields. Always NUL-terminates; output
 * that does not fit is cut at a whole escape. out needs 4*len+1 bytes for
 * the worst case. Returns out. */
char *text_escape(const char *in, size_t len, char *out, size_t outlen);

#endif
