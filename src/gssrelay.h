/* The protected relay of the GSSAPI method (RFC 1961 section 5): the client
 * side carries gss_wrap tokens, each framed as VER(0x01) MTYP(0x03) LEN(2)
 * TOKEN; the destination side is plain. The copy-mode sibling of relay_run. */
#ifndef SOCKSGATE_GSSRELAY_H
#define SOCKSGATE_GSSRELAY_H

#include <stdbool.h>

#include <gssapi/gssapi.h>

#include "relay.h"

/* Why a relay ended with RELAY_END_ERROR, for the session record. */
enum gssrelay_fault {
	GSSRELAY_FAULT_NONE,		/* not a protocol fault: a socket error */
	GSSRELAY_FAULT_FRAME,		/* bad version, type or zero length (EPROTO) */
	GSSRELAY_FAULT_TRUNCATED,	/* the client closed inside a frame (EPROTO) */
	GSSRELAY_FAULT_ABORT,		/* the client sent the abort 0x01 0xff (EPROTO) */
	GSSRELAY_FAULT_UNWRAP,		/* gss_unwrap refused a token (EBADMSG) */
	GSSRELAY_FAULT_WEAK,		/* integrity-only token, confidentiality session
					 * (EBADMSG; major/minor are GSS_S_COMPLETE) */
	GSSRELAY_FAULT_WRAP,		/* gss_wrap or gss_wrap_size_limit failed, or
					 * gave no confidentiality when asked (EBADMSG) */
};

/* What a relay that ended in error knows beyond the errno. major and minor
 * are the GSS status of the failed call (for gss_display_status), else 0. */
struct gssrelay_why {
	enum gssrelay_fault fault;
	OM_uint32 major, minor;
};

/* Relays between client (RFC 1961 section 5 messages) and dest (plain bytes)
 * until both directions are done, like relay_run: the sockets must be
 * non-blocking and stay owned by the caller; idle_timeout_ms 0 means no idle
 * limit; stats counts plaintext (up: client -> dest, down: dest -> client)
 * and its on_quiet hook runs as in relay_run.
 *
 * ctx is an established context of this session, used only by the calling
 * thread while this runs (GSS-API contexts are not safe to share); it stays
 * the caller's. conf: confidentiality was negotiated (else integrity). Each
 * message to the client is gss_wrap(conf_req = conf) of at most the
 * gss_wrap_size_limit for a 65535-byte token. A token from the client must
 * unwrap with GSS_S_COMPLETE (a replayed, reordered or missing token is
 * refused when the context has replay or sequence detection), and on a
 * confidentiality session it must have been encrypted (conf_state): an
 * integrity-only token there is refused, because accepting it would let the
 * client (or anyone able to splice in a token) downgrade what was agreed. On
 * an integrity session an encrypted token is accepted: it is integrity
 * protected as well.
 *
 * Half-close: client EOF between two messages becomes shutdown(dest, SHUT_WR);
 * dest EOF, once what was read is wrapped and sent, shutdown(client, SHUT_WR).
 * Memory: each direction has an input buffer of one frame at most and holds
 * at most one message for output (each under 64 KiB), however the peers
 * behave: a direction does not read while it holds a message.
 *
 * Returns RELAY_END_CLOSED, RELAY_END_IDLE, or RELAY_END_ERROR with *ret_err
 * set to: EPROTO when the client's bytes break the framing (bad version or
 * type, zero length, EOF inside a frame) or are an abort message; EBADMSG
 * when a GSS call fails (a token that does not unwrap or is weaker than the
 * session, or our own wrap); otherwise the socket's errno, as relay_run.
 * ret_why, when not NULL, is written on RELAY_END_ERROR only. Nothing is sent
 * to the client on an error (no abort message): the caller closes. */
enum relay_end gssrelay_run(int client, int dest, gss_ctx_id_t ctx, bool conf,
			    unsigned idle_timeout_ms, struct relay_stats *stats, int *ret_err,
			    struct gssrelay_why *ret_why);

#endif
