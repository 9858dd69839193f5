/* Kill mode (`beholder run --enforce kill`): Block rules decided at syscall entry.
 *
 * User space compiles the Block rules of each scope (a container's cgroup id, or 0 for the
 * host's own processes) into the maps below; at the entry of execve/execveat, open/openat/
 * openat2/creat and socket the caller is matched, and a Block verdict sends it SIGKILL with
 * bpf_send_signal. The kernel still runs the call it is in (a tracepoint cannot refuse it):
 * execve fails while copying its arguments (a fatal signal is pending) so the new program
 * never runs; an open completes, truncation included, but the caller dies before it returns
 * to user space, so nothing it read or would write reaches it. docs/enforcement.md says
 * exactly what this prevents and what it does not.
 *
 * Paths are matched as the caller wrote them (absolute paths only: no cwd, no symlinks are
 * resolved here) in an LPM trie keyed by (class, scope, source, path): a file rule is the
 * path with its NUL, a directory rule the directory with its trailing slash, so the longest
 * prefix is the most specific rule as KubeArmor ranks them. A rule with `fromSource` lives
 * under the hash of that source's path and is tried first (fromSource beats no source); the
 * caller's own path hash is kept per process from its exec (`enforce_exe`). Sockets are
 * matched by (family class, type, protocol class), every combination already decided in
 * user space by the policy engine itself.
 */
#define ENF_PATH 232                /* LPM data is at most 256 bytes: 20 of key, 232 of path */
#define ENF_PATH_WORDS (ENF_PATH / 8)
#define ENF_NONE ((u64)-1)
#define SIGKILL_NR 9
#define ENF_ANCESTOR_LEVELS 12        /* cgroup levels searched above the caller for a pod scope */

enum enf_class { ENF_EXEC = 1, ENF_FILE = 2 };
enum enf_flag { ENF_DIR = 1, ENF_RECURSIVE = 2, ENF_READONLY = 4 };
enum enf_stat { ENF_ST_KILLED = 0, ENF_ST_UNREADABLE = 1, ENF_ST_MAX = 2 };

struct enf_key {
    u32 prefixlen;                  /* bits of what follows that must match */
    u32 klass;
    u64 scope;
    u64 source;                     /* hash of the fromSource path, 0 for none */
    char path[ENF_PATH];
};

struct enf_rule {
    u32 kill;                       /* 1: Block wins here; 0: a rule that must not be killed */
    u32 flags;
    u32 dir_len;                    /* bytes of a directory rule, its trailing slash included */
    u32 pad;
};

struct enf_net_key {
    u64 scope;
    u64 source;
    u32 family;                     /* 2 inet/inet6, 17 packet, 0 any other */
    u32 type;                       /* SOCK_* without the flags */
    u32 protocol;                   /* 0, 1, 6, 17, 58, 132 for inet, else 255; 0 outside inet */
    u32 pad;
};

struct enf_src_key {
    u64 scope;
    u64 source;
};

BPF_F_TABLE("lpm_trie", struct enf_key, struct enf_rule, enforce_paths, 16384, BPF_F_NO_PREALLOC);
BPF_HASH(enforce_net, struct enf_net_key, u8, 16384);
BPF_HASH(enforce_net_sources, struct enf_src_key, u8, 4096);  /* (scope, source) with socket entries */
BPF_HASH(enforce_scopes, u64, u8, 4096);        /* scopes holding rules; 0 = the host */
BPF_HASH(enforce_exe, u32, u64, 65536);         /* tgid -> hash of the path it exec'd */
BPF_ARRAY(enforce_host_pidns, struct ns_id, 1); /* the host's pid namespace */
BPF_PERCPU_ARRAY(enforce_stats, u64, ENF_ST_MAX);
BPF_PERCPU_ARRAY(enforce_scratch, struct enf_key, 1);

static __always_inline void enforce_count(u32 idx)
{
    u64 *v = enforce_stats.lookup(&idx);
    if (v)
        *v += 1;
}

/* FNV-1a over the zero-padded path, word by word (sensors/enforce.py computes the same). */
static __always_inline u64 enforce_hash(const char *path)
{
    u64 h = 14695981039346656037ULL;
#pragma unroll
    for (int i = 0; i < ENF_PATH_WORDS; i++)
        h = (h ^ *(const u64 *)(path + i * 8)) * 1099511628211ULL;
    return h;
}

static __always_inline struct enf_key *enforce_key(void)
{
    u32 zero = 0;
    struct enf_key *k = enforce_scratch.lookup(&zero);
    if (!k)
        return 0;
#pragma unroll
    for (int i = 0; i < ENF_PATH_WORDS; i++)
        *(u64 *)(k->path + i * 8) = 0;
    return k;
}

/* The deepest ancestor of the caller's cgroup that holds rules: a pod's cgroup, loaded as soon
 * as the pod is known and kubelet has made its directory, so a new container's first exec is
 * judged before user space has seen any event of it. Level 0 is the root; the helper returns 0
 * past the caller's own level, which ends the walk. */
static __always_inline u64 enforce_ancestor_scope(u64 cg)
{
    u64 found = ENF_NONE;
#pragma unroll
    for (int level = 1; level <= ENF_ANCESTOR_LEVELS; level++) {
        u64 id = bpf_get_current_ancestor_cgroup_id(level);
        if (!id || id == cg)
            break;
        if (enforce_scopes.lookup(&id))
            found = id;
    }
    return found;
}

/* The scope whose rules apply to the caller: its cgroup (a container's own scope wins), else
 * its nearest ancestor with rules (the pod), else the host when it lives in the host's pid
 * namespace (a container the agent has not attributed yet is never "the host"). */
static __always_inline u64 enforce_scope(void)
{
    u64 cg = bpf_get_current_cgroup_id();
    if (enforce_scopes.lookup(&cg))
        return cg;
    u64 pod = enforce_ancestor_scope(cg);
    if (pod != ENF_NONE)
        return pod;
    u64 host = 0;
    if (!enforce_scopes.lookup(&host))
        return ENF_NONE;
    u32 zero = 0;
    struct ns_id *ns = enforce_host_pidns.lookup(&zero);
    struct bpf_pidns_info info = {};
    if (!ns || !ns->ino || bpf_get_ns_current_pid_tgid(ns->dev, ns->ino, &info, sizeof(info)))
        return ENF_NONE;
    return 0;
}

static __always_inline int enforce_writes(u64 open_flags)
{
    return (open_flags & 3) != 0;
}

/* Does the matched rule kill this call? A rule whose limit the call stays inside (a read
 * under readOnly, a deeper path under a non-recursive directory) kills nothing. */
static __always_inline int enforce_verdict(struct enf_rule *rule, struct enf_key *k, u64 open_flags)
{
    if (!rule->kill)
        return 0;
    if ((rule->flags & ENF_READONLY) && !enforce_writes(open_flags))
        return 0;
    if ((rule->flags & ENF_DIR) && !(rule->flags & ENF_RECURSIVE)) {
        /* a slash past the directory means a deeper path; branch-free, so the verifier walks
         * the bytes once (the key is zero-padded past the string: no slash there) */
        u32 start = rule->dir_len, deeper = 0;
        for (u32 i = 0; i < ENF_PATH; i++) {
            u32 c = (u8)k->path[i];
            deeper |= ((c ^ '/') - 1) >> 31 & (start - i - 1) >> 31;
        }
        if (deeper)
            return 0;
    }
    return 1;
}

/* Match a path already in `k->path` (zero-padded): the caller's source first, then none. */
static __always_inline int enforce_match(struct enf_key *k, u32 klass, u64 scope, u64 open_flags)
{
    if (k->path[0] != '/')
        return 0;
    k->prefixlen = (sizeof(*k) - sizeof(k->prefixlen)) * 8;
    k->klass = klass;
    k->scope = scope;
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    u64 *exe = enforce_exe.lookup(&tgid);
    if (exe && *exe) {
        k->source = *exe;
        struct enf_rule *rule = enforce_paths.lookup(k);
        if (rule)
            return enforce_verdict(rule, k, open_flags);
    }
    k->source = 0;
    struct enf_rule *rule = enforce_paths.lookup(k);
    return rule ? enforce_verdict(rule, k, open_flags) : 0;
}

static __always_inline int enforce_path(u32 klass, u64 scope, const char *upath, u64 open_flags)
{
    struct enf_key *k = enforce_key();
    if (!k)
        return 0;
    if (bpf_probe_read_user_str(k->path, ENF_PATH, upath) <= 0) {
        enforce_count(ENF_ST_UNREADABLE);  /* a page not in memory yet: cannot judge here */
        return 0;
    }
    return enforce_match(k, klass, scope, open_flags);
}

static __always_inline int enforce_socket(u64 scope, u32 family, u32 type, u32 proto)
{
    struct enf_net_key k = {};
    k.scope = scope;
    k.family = (family == 2 || family == 10) ? 2 : (family == 17 ? 17 : 0);
    k.type = type & 0xF;
    if (k.family != 2)
        proto = 0;
    else if (proto != 0 && proto != 1 && proto != 6 && proto != 17 && proto != 58 && proto != 132)
        proto = 255;
    k.protocol = proto;
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    u64 *exe = enforce_exe.lookup(&tgid);
    struct enf_src_key src = {.scope = scope, .source = exe ? *exe : 0};
    k.source = (src.source && enforce_net_sources.lookup(&src)) ? src.source : 0;
    u8 *kill = enforce_net.lookup(&k);
    return kill && *kill;
}

/* Mark the record parked for this call, so its event says the caller was killed. */
static __always_inline void enforce_mark(u32 role)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    if (role == K_EXEC) {
        struct record *parked = exec_pending.lookup(&tid);
        if (parked)
            parked->h.flags |= F_KILLED;
        return;
    }
    struct pending *p = pending.lookup(&tid);
    if (p)
        p->flags |= F_KILLED;
}

/* Judge the call at its entry and SIGKILL the caller on a Block verdict; 1 when killed. */
static __always_inline int enforce_enter(struct sc_enter *a, u32 role)
{
    if (role != K_EXEC && role != K_FILE && role != K_NET)
        return 0;
    if (skip_task(bpf_get_current_pid_tgid() >> 32))
        return 0;
    u64 scope = enforce_scope();
    if (scope == ENF_NONE)
        return 0;
    u32 nr = (u32)a->id;
    int kill = 0;
    if (nr == __NR_socket) {
        kill = enforce_socket(scope, (u32)a->args[0], (u32)a->args[1], (u32)a->args[2]);
    } else {
        /* one call site for every path call keeps the verifier's work small */
        u32 klass = ENF_FILE;
        const char *path = 0;
        u64 flags = 0;
        switch (nr) {
        case __NR_execve:
            klass = ENF_EXEC;
            path = (const char *)a->args[0];
            break;
        case __NR_execveat:
            klass = ENF_EXEC;
            path = (const char *)a->args[1];
            break;
        case __NR_open:
            path = (const char *)a->args[0];
            flags = a->args[1];
            break;
        case __NR_openat:
            path = (const char *)a->args[1];
            flags = a->args[2];
            break;
        case __NR_openat2:
            path = (const char *)a->args[1];
            bpf_probe_read_user(&flags, sizeof(flags), (void *)a->args[2]);  /* open_how.flags */
            break;
        case __NR_creat:
            path = (const char *)a->args[0];
            flags = 1;  /* O_WRONLY|O_CREAT|O_TRUNC */
            break;
        default:
            return 0;
        }
        kill = enforce_path(klass, scope, path, flags);
    }
    if (!kill)
        return 0;
    bpf_send_signal(SIGKILL_NR);
    enforce_count(ENF_ST_KILLED);
    return 1;
}

/* The caller's own path, for fromSource: set at exec, inherited at fork, dropped at exit. */
static __always_inline void enforce_note_exec(const char *kernel_name)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct enf_key *k = enforce_key();
    if (!k)
        return;
    if (bpf_probe_read_kernel_str(k->path, ENF_PATH, kernel_name) <= 0) {
        enforce_exe.delete(&tgid);
        return;
    }
    u64 h = enforce_hash(k->path);
    enforce_exe.update(&tgid, &h);
}

static __always_inline void enforce_note_fork(u32 parent, u32 child)
{
    u64 *h = enforce_exe.lookup(&parent);
    if (h) {
        u64 copy = *h;
        enforce_exe.update(&child, &copy);
    }
}

static __always_inline void enforce_forget(u32 tgid)
{
    enforce_exe.delete(&tgid);
}
