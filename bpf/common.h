/* Beholder: shared record layout, maps and helpers for every sensor.
 *
 * Only tracepoint arguments and BPF helpers are read, never kernel struct fields, so the
 * generic header tree bcc compiles against is correct for any running kernel. Every
 * syscalls:sys_enter_* tracepoint has the same layout (nr, then six u64 arguments), which
 * lets one enter handler and one exit handler serve all traced syscalls.
 *
 * Accounting invariant, checked by the tests: SEEN = EMITTED + SUPPRESSED + LOST.
 */
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

#ifndef RINGBUF_PAGES
#define RINGBUF_PAGES 4096          /* 16 MiB */
#endif
#ifndef MAX_PENDING
#define MAX_PENDING 16384
#endif

#define STR_CHUNK 4096              /* one path (PATH_MAX) */
#define ARGV_SIZE 8192              /* argv bytes kept per exec, NUL separated */
#define ARG_CHUNK 2048              /* longest single argument read at once */
#define MAX_ARGS 32
#define BUF_SPAN 16384              /* power of two covering one path + argv */
#define BUF_SIZE (BUF_SPAN + ARG_CHUNK)
#define DNS_PAYLOAD 512
#define SYSCALL_SLOTS 512

enum kind {
    K_EXEC = 1, K_FORK = 2, K_EXIT = 3, K_FILE = 4, K_NET = 5, K_SYSCALL = 6,
    K_CAP = 7, K_TCP_STATE = 8, K_DNS = 9, K_CHDIR = 10,
};

enum stat { ST_SEEN = 0, ST_EMITTED = 1, ST_SUPPRESSED = 2, ST_LOST = 3, ST_PENDING_FULL = 4, ST_MAX = 5 };

/* CFG_READY stays 0 until user space has filled the exclusion map, so the agent never
 * sees its own start-up (bcc attaches probes before we can configure them). */
enum cfg { CFG_DEDUP_NS = 0, CFG_FILTER_CGROUP = 1, CFG_READY = 3, CFG_MAX = 4 };

#define F_TRUNCATED 1               /* a string or argv was cut to its bound */
#define F_ARGV_TRUNCATED 2
#define F_KILLED 4                  /* kill mode sent the caller SIGKILL at this call's entry */

struct hdr {
    u64 ts;
    u64 cgroup_id;
    u32 tgid;
    u32 tid;
    u32 uid;
    u32 gid;
    s64 retval;
    u32 kind;
    u32 nr;                         /* syscall number, or 0 for sched/sock/cap events */
    u32 flags;
    u32 repeat;                     /* identical events suppressed since the last one sent */
    u32 ns_tgid;                    /* pid inside the container's pid namespace, 0 unknown */
    u32 ns_pad;
    char comm[16];
};

struct record {
    struct hdr h;
    u64 args[6];
    u32 len1;                       /* bytes of the first string/blob in buf */
    u32 len2;                       /* bytes of the second, right after the first */
    char buf[BUF_SIZE];
};

#define RECORD_FIXED (sizeof(struct hdr) + 6 * sizeof(u64) + 2 * sizeof(u32))

struct pending {
    u64 ts;
    u32 kind;
    u32 nr;
    u64 args[6];
    u32 flags;                      /* record flags known at enter (F_KILLED) */
    u32 pad;
};

struct dedup_key {
    u32 tgid;
    u32 nr;
    s64 retval;
    u64 hash;                       /* strings, blobs and the non-pointer arguments */
};

struct dedup_val {
    u64 last_ts;
    u32 suppressed;
    u32 pad;
};

struct sc_counts {
    u64 calls[SYSCALL_SLOTS];
    u32 first_tgid[SYSCALL_SLOTS];  /* the process that first made each call: R0003's pid */
};

BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
BPF_PERCPU_ARRAY(scratch, struct record, 1);
BPF_PERCPU_ARRAY(stats, u64, ST_MAX);
BPF_ARRAY(config, u64, CFG_MAX);
BPF_HASH(excluded, u32, u8, 4096);              /* the agent's own process tree */
BPF_HASH(cgroup_allow, u64, u8, 4096);          /* optional cgroup filter */
BPF_HASH(pending, u32, struct pending, MAX_PENDING);
BPF_F_TABLE("hash", u32, struct record, exec_pending, 1024, BPF_F_NO_PREALLOC);
BPF_TABLE("lru_hash", struct dedup_key, struct dedup_val, dedup_map, 65536);
BPF_ARRAY(ptr_mask, u32, 512);
struct ns_id {
    u64 dev;
    u64 ino;
};
BPF_HASH(pidns_of_cgroup, u64, struct ns_id, 4096); /* filled by user space per container */                  /* syscall nr -> bitmask of pointer arguments */
/* cgroup id -> calls per syscall number; user space adds a row per container it discovers,
 * so host processes pay one failed lookup per syscall and nothing else. */
BPF_HASH(syscall_counts, u64, struct sc_counts, 1024);
BPF_HASH(clone_flags, u32, u64, 4096);          /* tid -> flags of the clone in flight */
BPF_HASH(exit_codes, u32, u32, 16384);           /* tgid -> exit_group status */
BPF_HASH(dns_fds, u64, u8, 16384);               /* (tgid << 32 | fd) connected to port 53 */

#define barrier_var(var) asm volatile("" : "=r"(var) : "0"(var))

static __always_inline void stat_add(u32 idx, u64 n)
{
    u64 *v = stats.lookup(&idx);
    if (v)
        *v += n;
}

static __always_inline u64 cfg(u32 idx)
{
    u64 *v = config.lookup(&idx);
    return v ? *v : 0;
}

/* True when this task must not be traced: the agent itself, or outside the cgroup filter. */
static __always_inline int skip_task(u32 tgid)
{
    if (!cfg(CFG_READY))
        return 1;
    if (excluded.lookup(&tgid))
        return 1;
    if (cfg(CFG_FILTER_CGROUP)) {
        u64 cg = bpf_get_current_cgroup_id();
        if (!cgroup_allow.lookup(&cg))
            return 1;
    }
    return 0;
}

/* The caller's pid in its container's pid namespace, via a helper (no task_struct reads). */
static __always_inline u32 ns_tgid(u64 cgroup_id)
{
    struct ns_id *ns = pidns_of_cgroup.lookup(&cgroup_id);
    if (!ns)
        return 0;
    struct bpf_pidns_info info = {};
    if (bpf_get_ns_current_pid_tgid(ns->dev, ns->ino, &info, sizeof(info)))
        return 0;
    return info.tgid;
}

static __always_inline u32 interest_flags(u64 cgroup_id, u32 nr, u32 kind);  /* interest.h */

static __always_inline struct record *new_record(u32 kind, u32 nr, s64 retval)
{
    u32 zero = 0;
    struct record *r = scratch.lookup(&zero);
    if (!r)
        return 0;
    u64 id = bpf_get_current_pid_tgid();
    r->h.ts = bpf_ktime_get_ns();
    r->h.cgroup_id = bpf_get_current_cgroup_id();
    r->h.tgid = id >> 32;
    r->h.tid = (u32)id;
    r->h.retval = retval;
    r->h.kind = kind;
    r->h.nr = nr;
    r->h.flags = interest_flags(r->h.cgroup_id, nr, kind);
    r->h.repeat = 0;
    r->len1 = 0;
    r->len2 = 0;
    return r;
}

/* The caller's credentials, namespace pid and comm, filled by submit() once a record is
 * going out: a folded repeat or an unwanted open never pays for them. Every record is
 * submitted in the context of the task it describes (exec's parked record is re-stamped). */
static __always_inline void fill_identity(struct record *r)
{
    u64 ug = bpf_get_current_uid_gid();
    r->h.uid = (u32)ug;
    r->h.gid = ug >> 32;
    r->h.ns_tgid = ns_tgid(r->h.cgroup_id);
    bpf_get_current_comm(&r->h.comm, sizeof(r->h.comm));
}

/* Read a user string into buf[off..]; returns bytes kept (incl. NUL), flags truncation. */
static __always_inline u32 read_str(struct record *r, u32 off, const void *src)
{
    if (!src)
        return 0;
    off &= (STR_CHUNK * 2 - 1);
    long n = bpf_probe_read_user_str(&r->buf[off], STR_CHUNK, src);
    if (n <= 0)
        return 0;
    if (n == STR_CHUNK)
        r->h.flags |= F_TRUNCATED;
    return (u32)n;
}

/* Read a fixed-size user blob (a sockaddr, a DNS payload) into buf[off..]. */
static __always_inline u32 read_blob(struct record *r, u32 off, const void *src, u64 len, u32 cap)
{
    if (!src || len == 0)
        return 0;
    if (len > cap) {
        len = cap;
        r->h.flags |= F_TRUNCATED;
    }
    u32 n = len;
    barrier_var(n);             /* keep clang from folding the mask the verifier needs */
    n &= (STR_CHUNK - 1);
    off &= (STR_CHUNK - 1);
    if (n == 0 || bpf_probe_read_user(&r->buf[off], n, src))
        return 0;
    return n;
}

static __always_inline u64 hash_bytes(const char *buf, u32 len)
{
    u64 h = 14695981039346656037ULL;
    for (int i = 0; i < STR_CHUNK / 8; i++) {
        if (i * 8 >= len)
            break;
        h = (h ^ *(const u64 *)(buf + i * 8)) * 1099511628211ULL;  /* direct map-value load */
    }
    return h;
}

/* Fold exact repeats within the configured window into a counter; 1 means suppressed. */
static __always_inline int is_repeat(struct record *r)
{
    u64 window = cfg(CFG_DEDUP_NS);
    if (!window)
        return 0;
    struct dedup_key k = {};
    k.tgid = r->h.tgid;
    k.nr = r->h.nr ? r->h.nr : 1000 + r->h.kind;
    k.retval = r->h.retval;
    /* User-space pointers differ between identical calls; only values identify a repeat. */
    u32 nr = r->h.nr;
    u32 *m = ptr_mask.lookup(&nr);
    u32 mask = m ? *m : 0;
    u64 h = hash_bytes(r->buf, r->len1 + r->len2);
#pragma unroll
    for (int i = 0; i < 6; i++)
        if (!(mask & (1u << i)))
            h = (h ^ r->args[i]) * 1099511628211ULL;
    k.hash = h;
    struct dedup_val *v = dedup_map.lookup(&k);
    if (v && r->h.ts - v->last_ts < window) {
        __sync_fetch_and_add(&v->suppressed, 1);
        stat_add(ST_SUPPRESSED, 1);
        return 1;
    }
    if (v) {
        r->h.repeat = v->suppressed;
        v->suppressed = 0;
        v->last_ts = r->h.ts;
    } else {
        struct dedup_val nv = {.last_ts = r->h.ts};
        dedup_map.update(&k, &nv);
    }
    return 0;
}

static __always_inline void submit(struct record *r, int try_dedup)
{
    stat_add(ST_SEEN, 1);
    if (try_dedup && is_repeat(r))
        return;
    fill_identity(r);
    u64 size = RECORD_FIXED + r->len1 + r->len2;
    if (size > sizeof(*r))
        size = sizeof(*r);
    if (events.ringbuf_output(r, size, 0) == 0)
        stat_add(ST_EMITTED, 1);
    else
        stat_add(ST_LOST, 1);
}

/* raw_syscalls:sys_enter and sys_exit layouts. The per-syscall syscalls:sys_enter_<name> and
 * sys_exit_<name> lay out the same way: an int __syscall_nr at offset 8 (the low half of
 * `id`, so every reader takes (u32)id), the arguments (8 bytes each) or `ret` from 16. */
struct sc_enter {
    u64 common;
    long id;
    u64 args[6];
};

struct sc_exit {
    u64 common;
    long id;
    long ret;
};

/* What to do with a syscall number (user space fills `syscall_role`). Roles below 16 are
 * record kinds completed at exit; the others are handled at enter. */
enum role { R_NONE = 0, R_CLONE = 16, R_EXIT_GROUP = 17, R_DNS_WRITE = 18, R_DNS_SENDTO = 19,
            R_DNS_SENDMSG = 20, R_DNS_SENDMMSG = 21 };
BPF_ARRAY(syscall_role, u32, SYSCALL_SLOTS);

/* Park a syscall's arguments until its exit, keyed by thread. */
static __always_inline int stash(struct sc_enter *a, u32 kind)
{
    u64 id = bpf_get_current_pid_tgid();
    if (skip_task(id >> 32))
        return 0;
    struct pending p = {};
    p.ts = bpf_ktime_get_ns();
    p.kind = kind;
    p.nr = (u32)a->id;
#pragma unroll
    for (int i = 0; i < 6; i++)
        p.args[i] = a->args[i];
    u32 tid = (u32)id;
    if (pending.update(&tid, &p) != 0) {
        stat_add(ST_SEEN, 1);
        stat_add(ST_LOST, 1);
        stat_add(ST_PENDING_FULL, 1);
    }
    return 0;
}

/* Start the record for a syscall exit from what its enter stashed; 0 when none. */
static __always_inline struct record *resume(void *ctx, struct pending *out)
{
    struct sc_exit *a = ctx;
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct pending *p = pending.lookup(&tid);
    if (!p)
        return 0;
    *out = *p;
    pending.delete(&tid);
    struct record *r = new_record(out->kind, out->nr, a->ret);
    if (!r)
        return 0;
    r->h.flags |= out->flags;
#pragma unroll
    for (int i = 0; i < 6; i++)
        r->args[i] = out->args[i];
    return r;
}

/* Two strings from the syscall's arguments, the second stored right after the first. */
static __always_inline void read_two(struct record *r, const void *s1, const void *s2)
{
    r->len1 = read_str(r, 0, s1);
    if (s2)
        r->len2 = read_str(r, r->len1, s2);
}
