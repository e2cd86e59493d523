/* Fault injection for the integration tests: an LD_PRELOAD shim (never
 * installed) that makes chosen calls fail at a chosen rate, driven by the
 * environment, and only while an "arm" file exists, so the daemon starts
 * cleanly and a test can stop the faults to check what is left behind.
 *
 *   SG_FAULT="malloc:0.01,pipe2:0.2:100"  NAME:RATE[:AFTER] (fail with
 *                       probability RATE once AFTER armed calls have passed)
 *   SG_FAULT_SEED=N     the pseudo-random sequence (default 1)
 *   SG_FAULT_ARM=PATH   faults only while PATH exists (checked every 10 ms);
 *                       without it, faults from the first call
 *   SG_FAULT_LOG=PATH   one line "NAME" appended per injected fault
 *
 * Names: malloc (also calloc and realloc), pipe2, socket, accept4,
 * pthread_create, getaddrinfo, splice, sendmsg (also sendto), recvmsg (also
 * recvfrom), pam_start. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum fault_id {
	F_MALLOC,
	F_PIPE2,
	F_SOCKET,
	F_ACCEPT4,
	F_PTHREAD_CREATE,
	F_GETADDRINFO,
	F_SPLICE,
	F_SENDMSG,
	F_RECVMSG,
	F_PAM_START,
	F_COUNT,
};

static const char *const fault_names[F_COUNT] = {
	"malloc", "pipe2", "socket", "accept4", "pthread_create", "getaddrinfo", "splice",
	"sendmsg", "recvmsg", "pam_start",
};

struct fault {
	double rate;			/* 0: never */
	unsigned long after;
	atomic_ulong calls;		/* armed calls so far */
};

static struct fault faults[F_COUNT];
static uint64_t seed = 1;
static char arm_path[256];
static int log_fd = -1;
static atomic_bool armed;
static atomic_llong next_check_ns;
static atomic_bool ready;		/* constructor done: the environment is parsed */

/* The real functions, resolved in the constructor. */
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_pipe2)(int[2], int);
static int (*real_socket)(int, int, int);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static int (*real_getaddrinfo)(const char *, const char *, const struct addrinfo *,
			       struct addrinfo **);
static ssize_t (*real_splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static int (*real_pam_start)(const char *, const char *, const struct pam_conv *,
			     pam_handle_t **);

/* Allocations made while dlsym() resolves the allocator itself: served from
 * here, never freed. Each block starts with its size (for realloc). */
static _Alignas(16) char boot[64 * 1024];
static atomic_size_t boot_used;

static void *boot_alloc(size_t n)
{
	size_t need = (n + 16 + 15) & ~(size_t)15;
	size_t off = atomic_fetch_add(&boot_used, need);

	if (off + need > sizeof(boot))
		return NULL;
	*(size_t *)(boot + off) = n;
	return boot + off + 16;
}

static bool is_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Is the arm file there? Looked at every 10 ms at most, without libc calls
 * that could come back here. */
static bool is_armed(void)
{
	struct timespec ts;

	if (arm_path[0] == '\0')
		return true;
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
	if (now >= atomic_load_explicit(&next_check_ns, memory_order_relaxed)) {
		atomic_store(&next_check_ns, now + 10000000ll);
		atomic_store(&armed, syscall(SYS_faccessat, AT_FDCWD, arm_path, F_OK, 0) == 0);
	}
	return atomic_load_explicit(&armed, memory_order_relaxed);
}

/* Calls that are not the daemon's to survive are never failed: those made
 * before a thread reaches its start routine (user_thread: a sanitizer runtime
 * aborts when pthread_getattr_np() cannot allocate as it sets a thread up),
 * those of a sanitizer runtime or of the dynamic loader, and any made inside
 * a libpam call (in_pam: libpam 1.5 loading a module under ENOMEM later calls
 * dlsym() on a bad handle and crashes inside itself; a failing PAM is the
 * pam_start fault's business). */
static __thread __attribute__((tls_model("initial-exec"))) int user_thread;
static __thread __attribute__((tls_model("initial-exec"))) int in_pam;

static bool not_ours(const void *caller)
{
	Dl_info info;

	if (!user_thread || in_pam > 0)
		return true;
	if (caller == NULL || dladdr(caller, &info) == 0 || info.dli_fname == NULL)
		return false;
	return strstr(info.dli_fname, "libasan") != NULL ||
	       strstr(info.dli_fname, "libubsan") != NULL ||
	       strstr(info.dli_fname, "libtsan") != NULL ||
	       strstr(info.dli_fname, "/ld-linux") != NULL;
}

/* Should this call of id, made from caller, fail? */
static bool fail_from(enum fault_id id, const void *caller)
{
	struct fault *f = &faults[id];

	if (!atomic_load_explicit(&ready, memory_order_acquire) || f->rate <= 0 || !is_armed())
		return false;
	unsigned long n = atomic_fetch_add(&f->calls, 1);
	if (n < f->after)
		return false;
	uint64_t h = mix(seed ^ ((uint64_t)id << 56) ^ n);
	if ((double)(h >> 11) / 9007199254740992.0 >= f->rate || not_ours(caller))
		return false;
	if (log_fd >= 0) {
		char line[32];
		size_t len = strlen(fault_names[id]);
		memcpy(line, fault_names[id], len);
		line[len++] = '\n';
		(void)syscall(SYS_write, log_fd, line, len);
	}
	return true;
}

#define fail(id) fail_from((id), __builtin_return_address(0))

static void parse_spec(const char *s)
{
	while (*s != '\0') {
		size_t len = strcspn(s, ",");
		for (int i = 0; i < F_COUNT; i++) {
			size_t nl = strlen(fault_names[i]);
			if (len <= nl || strncmp(s, fault_names[i], nl) != 0 || s[nl] != ':')
				continue;
			char *end;
			faults[i].rate = strtod(s + nl + 1, &end);
			if (*end == ':')
				faults[i].after = strtoul(end + 1, NULL, 10);
		}
		s += len + (s[len] == ',');
	}
}

#define RESOLVE(name) (*(void **)&real_##name = dlsym(RTLD_NEXT, #name))

/* Resolves every real function. Libraries' constructors (GnuTLS's) may
 * allocate before ours runs, so the wrappers call this on first use; what
 * dlsym() itself allocates meanwhile (on any thread) comes from boot[]. */
static atomic_bool resolving;	/* no TLS: it may not be set up yet */

static void resolve(void)
{
	if (atomic_exchange(&resolving, true))
		return;
	RESOLVE(malloc);
	RESOLVE(calloc);
	RESOLVE(realloc);
	RESOLVE(free);
	RESOLVE(pipe2);
	RESOLVE(socket);
	RESOLVE(accept4);
	RESOLVE(pthread_create);
	RESOLVE(getaddrinfo);
	RESOLVE(splice);
	RESOLVE(sendmsg);
	RESOLVE(sendto);
	RESOLVE(recvmsg);
	RESOLVE(recvfrom);
	RESOLVE(pam_start);	/* NULL when libpam is not loaded */
	atomic_store(&resolving, false);
}

__attribute__((constructor)) static void faultinject_init(void)
{
	resolve();
	user_thread = 1;	/* the main thread */
	const char *v = getenv("SG_FAULT");
	if (v != NULL)
		parse_spec(v);
	if ((v = getenv("SG_FAULT_SEED")) != NULL)
		seed = strtoull(v, NULL, 0);
	if ((v = getenv("SG_FAULT_ARM")) != NULL && strlen(v) < sizeof(arm_path))
		memcpy(arm_path, v, strlen(v) + 1);
	if ((v = getenv("SG_FAULT_LOG")) != NULL)
		log_fd = open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	atomic_store_explicit(&ready, true, memory_order_release);
}

/* The real function, resolved on first use (NULL only inside dlsym()). */
#define REAL(name) (real_##name != NULL ? real_##name : (resolve(), real_##name))

/* ---- the allocator ---- */

void *malloc(size_t n)
{
	if (REAL(malloc) == NULL)
		return boot_alloc(n);
	if (fail(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (REAL(calloc) == NULL) {
		/* boot[] is zero and never reused. */
		if (size != 0 && n > SIZE_MAX / size)
			return NULL;
		return boot_alloc(n * size);
	}
	if (fail(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (is_boot(p) || REAL(realloc) == NULL) {
		void *q = malloc(n);
		if (q != NULL && p != NULL) {
			size_t old = is_boot(p) ? *(size_t *)((char *)p - 16) : n;
			memcpy(q, p, old < n ? old : n);
		}
		return q;
	}
	/* realloc(p, 0) frees: not a failure to inject. */
	if (n != 0 && fail(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_realloc(p, n);
}

void free(void *p)
{
	if (p == NULL || is_boot(p) || REAL(free) == NULL)
		return;
	real_free(p);
}

/* ---- descriptors, threads, names, data ---- */

int pipe2(int fds[2], int flags)
{
	if (fail(F_PIPE2)) {
		errno = EMFILE;
		return -1;
	}
	return REAL(pipe2)(fds, flags);
}

int socket(int domain, int type, int protocol)
{
	if (fail(F_SOCKET)) {
		errno = EMFILE;
		return -1;
	}
	return REAL(socket)(domain, type, protocol);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	if (fail(F_ACCEPT4)) {
		errno = EMFILE;
		return -1;
	}
	return REAL(accept4)(fd, addr, len, flags);
}

struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start st = *(struct thread_start *)p;

	real_free(p);
	user_thread = 1;
	return st.fn(st.arg);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (fail(F_PTHREAD_CREATE))
		return EAGAIN;
	/* Not a malloc that may fail: the shim's own. */
	struct thread_start *st = REAL(malloc) != NULL ? real_malloc(sizeof(*st)) : NULL;
	if (st == NULL)
		return EAGAIN;
	st->fn = fn;
	st->arg = arg;
	int r = REAL(pthread_create)(t, attr, thread_trampoline, st);
	if (r != 0)
		real_free(st);
	return r;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	if (fail(F_GETADDRINFO))
		return EAI_AGAIN;
	return REAL(getaddrinfo)(node, service, hints, res);
}

ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned flags)
{
	if (fail(F_SPLICE)) {
		errno = ENOMEM;
		return -1;
	}
	return REAL(splice)(in, off_in, out, off_out, len, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (fail(F_SENDMSG)) {
		errno = ENOBUFS;
		return -1;
	}
	return REAL(sendmsg)(fd, msg, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	if (fail(F_SENDMSG)) {
		errno = ENOBUFS;
		return -1;
	}
	return REAL(sendto)(fd, buf, len, flags, to, tolen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (fail(F_RECVMSG)) {
		errno = ENOMEM;
		return -1;
	}
	return REAL(recvmsg)(fd, msg, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
		 socklen_t *fromlen)
{
	if (fail(F_RECVMSG)) {
		errno = ENOMEM;
		return -1;
	}
	return REAL(recvfrom)(fd, buf, len, flags, from, fromlen);
}

/* libpam, with in_pam set around each call the daemon makes. */
int pam_start(const char *service, const char *user, const struct pam_conv *conv,
	      pam_handle_t **pamh)
{
	if (REAL(pam_start) == NULL || fail(F_PAM_START)) {
		*pamh = NULL;
		return PAM_BUF_ERR;
	}
	in_pam++;
	int r = real_pam_start(service, user, conv, pamh);
	in_pam--;
	return r;
}

#define PAM_WRAP(name, params, args)                                                        \
	int name params                                                                     \
	{                                                                                   \
		static int (*real) params;                                                  \
		if (real == NULL)                                                           \
			*(void **)&real = dlsym(RTLD_NEXT, #name);                          \
		if (real == NULL)                                                           \
			return PAM_SYSTEM_ERR;                                              \
		in_pam++;                                                                   \
		int r = real args;                                                          \
		in_pam--;                                                                   \
		return r;                                                                   \
	}

PAM_WRAP(pam_authenticate, (pam_handle_t *h, int flags), (h, flags))
PAM_WRAP(pam_acct_mgmt, (pam_handle_t *h, int flags), (h, flags))
PAM_WRAP(pam_set_item, (pam_handle_t *h, int type, const void *item), (h, type, item))
PAM_WRAP(pam_end, (pam_handle_t *h, int status), (h, status))
