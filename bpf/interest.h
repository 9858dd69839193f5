/* Interest: which of a cgroup's events leave the kernel, and as what.
 *
 * User space classifies each cgroup it sees (a container, or the host) into a slot of
 * `interest`: the syscalls and record kinds its visibility exports as telemetry, and those
 * that evaluation still needs (loaded policies, bound profiles, profile-free rules,
 * self-protection), which are sent marked F_EVAL_ONLY. Every hook asks here before it
 * reads strings or reserves ring-buffer space, so an event nobody wants costs two map
 * lookups and nothing else. A cgroup not classified yet uses slot 0 (user space fills it
 * to send everything), and a slot never activated sends everything as telemetry (the
 * behaviour without interest). The cgroup map is an LRU: an evicted cgroup is unclassified
 * again and user space classifies it again from its next record.
 */
#define F_EVAL_ONLY 8               /* hdr.flags: sent for evaluation only, not as telemetry */
#define F_UNCLASSIFIED 16           /* hdr.flags: the cgroup has no entry yet: user space classifies it */
#define INTEREST_SLOTS 256
#define INTEREST_WORDS 8           /* SYSCALL_SLOTS / 64 */
#define OPEN_WRITE_FLAGS (01 | 02 | 0100 | 01000 | 02000)  /* O_WRONLY O_RDWR O_CREAT O_TRUNC O_APPEND */
#define NOT_AN_OPEN OPEN_WRITE_FLAGS  /* send_of's flags for any other call: judged whole */

_Static_assert(INTEREST_WORDS * 64 == SYSCALL_SLOTS, "one bit per syscall slot");

enum send { SEND_NOTHING = 0, SEND_TELEMETRY = 1, SEND_EVALUATE = 2 };

/* An evaluate-only call is needed whole, unless it has a `writes` or `paths` bit: then only
 * when it can write, or (opens) when its path starts with a prefix of `interest_prefixes`. */
struct interest {
    u64 telemetry[INTEREST_WORDS];  /* syscall numbers exported as telemetry */
    u64 evaluate[INTEREST_WORDS];   /* syscall numbers sent for evaluation only */
    u64 writes[INTEREST_WORDS];     /* of those, opens needed when they can write */
    u64 paths[INTEREST_WORDS];      /* of those, opens needed when their path has a prefix */
    u32 kinds_telemetry;            /* record kinds without a syscall (fork, exit, TCP state, capability) */
    u32 kinds_evaluate;
    u32 active;                     /* 0: not configured, send everything as telemetry */
    u32 pad;
};

BPF_TABLE("lru_hash", u64, u32, cgroup_interest, 65536);  /* cgroup id -> slot; absent: slot 0 */
BPF_ARRAY(interest, struct interest, INTEREST_SLOTS);

/* Path prefixes evaluation reads (every plan's, together), 8 bytes a word with a mask of the
 * bytes that count; the first entry with an empty first mask ends the list. */
#define PREFIXES 32
#define PREFIX_WORDS 8
struct path_prefix {
    u64 word[PREFIX_WORDS];
    u64 mask[PREFIX_WORDS];
};
BPF_ARRAY(interest_prefixes, struct path_prefix, PREFIXES);

static __always_inline struct interest *interest_of(u64 cgroup_id)
{
    u32 *slot = cgroup_interest.lookup(&cgroup_id);
    u32 idx = slot ? *slot : 0;
    struct interest *in = interest.lookup(&idx);
    return in && in->active ? in : 0;
}

static __always_inline int has_nr(const u64 *words, u32 nr)
{
    return (words[(nr >> 6) & (INTEREST_WORDS - 1)] >> (nr & 63)) & 1;
}

/* The flags an open passes at enter; other calls (creat, openat2's struct) count as writing.
 * Both candidates are loaded first: the verifier refuses a ctx read at a variable offset. */
static __always_inline u64 open_flags(struct sc_enter *a)
{
    u32 nr = (u32)a->id;
    u64 open = a->args[1], at = a->args[2];
    barrier_var(open);
    barrier_var(at);
    if (nr == __NR_open)
        return open;
    if (nr == __NR_openat)
        return at;
    return NOT_AN_OPEN;
}

/* What to do with the current task's syscall `nr` (or, for nr 0, its record `kind`).
 * `flags` are an open's flags (NOT_AN_OPEN for other calls). */
static __always_inline u32 send_of(u32 nr, u32 kind, u64 flags)
{
    struct interest *in = interest_of(bpf_get_current_cgroup_id());
    if (!in)
        return SEND_TELEMETRY;
    nr &= SYSCALL_SLOTS - 1;
    if (!nr) {
        u32 bit = 1u << (kind & 31);
        if (in->kinds_telemetry & bit)
            return SEND_TELEMETRY;
        return in->kinds_evaluate & bit ? SEND_EVALUATE : SEND_NOTHING;
    }
    if (has_nr(in->telemetry, nr))
        return SEND_TELEMETRY;
    if (!has_nr(in->evaluate, nr))
        return SEND_NOTHING;
    int writes = has_nr(in->writes, nr), paths = has_nr(in->paths, nr);
    if (!writes && !paths)
        return SEND_EVALUATE;
    if (writes && (flags & OPEN_WRITE_FLAGS))
        return SEND_EVALUATE;
    return paths ? SEND_EVALUATE : SEND_NOTHING;  /* a path is judged at exit (open_unwanted) */
}

/* Whether the path in a record's buffer starts with a prefix evaluation reads. A relative
 * path always counts: it is joined with the process's cwd in user space. */
static __always_inline int path_wanted(struct record *r)
{
    if (r->len1 == 0 || r->buf[0] != '/')
        return 1;
    for (u32 i = 0; i < PREFIXES; i++) {
        u32 idx = i;
        struct path_prefix *pfx = interest_prefixes.lookup(&idx);
        if (!pfx || !pfx->mask[0])
            return 0;
        int match = 1;
        for (int w = 0; w < PREFIX_WORDS; w++) {
            u64 mask = pfx->mask[w];
            if (!mask)
                break;
            if ((*(u64 *)(r->buf + w * 8) & mask) != pfx->word[w]) {  /* direct map-value load */
                match = 0;
                break;
            }
        }
        if (match)
            return 1;
    }
    return 0;
}

/* At an open's exit, with its path read: an evaluate-only open that evaluation reads only
 * under some paths (or when it can write) and that is neither is dropped unbuilt. */
static __always_inline int open_unwanted(struct record *r, struct pending *p)
{
    if (!(r->h.flags & F_EVAL_ONLY))
        return 0;
    struct interest *in = interest_of(r->h.cgroup_id);
    u32 nr = p->nr & (SYSCALL_SLOTS - 1);
    if (!in || !has_nr(in->paths, nr))
        return 0;
    u64 flags = NOT_AN_OPEN;
    if (p->nr == __NR_open)
        flags = p->args[1];
    else if (p->nr == __NR_openat)
        flags = p->args[2];
    else if (p->nr == __NR_openat2)
        flags = r->args[2];  /* open_how.flags, read at exit */
    if (has_nr(in->writes, nr) && (flags & OPEN_WRITE_FLAGS))
        return 0;
    return !path_wanted(r);
}

/* The header flags of a record being built for `cgroup_id`: F_EVAL_ONLY unless exported,
 * F_UNCLASSIFIED while user space has not classified the cgroup (once interest is on). */
static __always_inline u32 interest_flags(u64 cgroup_id, u32 nr, u32 kind)
{
    u32 *slot = cgroup_interest.lookup(&cgroup_id);
    u32 idx = slot ? *slot : 0;
    struct interest *in = interest.lookup(&idx);
    if (!in || !in->active)
        return 0;
    nr &= SYSCALL_SLOTS - 1;
    int shown = nr ? has_nr(in->telemetry, nr) : (in->kinds_telemetry >> (kind & 31)) & 1;
    return (slot ? 0 : F_UNCLASSIFIED) | (shown ? 0 : F_EVAL_ONLY);
}
