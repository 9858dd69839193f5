/* Process sensor: fork (processes, not threads), exec with bounded argv, exit with code.
 *
 * execve's argv lives in the old address space, so it is read at sys_enter and parked
 * per thread; the record is sent when the exec resolves: sched_process_exec on success
 * (the thread id may change when a non-leader thread execs, old_pid finds it), or
 * sys_exit_execve with the error.
 */
#define CLONE_THREAD_FLAG 0x00010000ULL

static __always_inline u32 read_argv(struct record *r, u32 base, const char *const *argv)
{
    u32 off = 0;
    for (int i = 0; i < MAX_ARGS; i++) {
        const char *arg = 0;
        if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
            return off;
        if (off >= ARGV_SIZE) {
            r->h.flags |= F_ARGV_TRUNCATED;
            return ARGV_SIZE;
        }
        long n = bpf_probe_read_user_str(&r->buf[(base + off) & (BUF_SPAN - 1)], ARG_CHUNK, arg);
        if (n <= 0)
            return off;
        if (n == ARG_CHUNK)
            r->h.flags |= F_ARGV_TRUNCATED;
        off += n;
    }
    const char *more = 0;
    if (bpf_probe_read_user(&more, sizeof(more), &argv[MAX_ARGS]) == 0 && more)
        r->h.flags |= F_ARGV_TRUNCATED;
    return off > ARGV_SIZE ? ARGV_SIZE : off;
}

static __always_inline int exec_enter(u32 nr, const char *filename, const char *const *argv, u64 dirfd, u64 flags)
{
    u64 id = bpf_get_current_pid_tgid();
    if (skip_task(id >> 32))
        return 0;
    struct record *r = new_record(K_EXEC, nr, 0);
    if (!r)
        return 0;
    r->args[0] = dirfd;
    r->args[1] = flags;
    r->len1 = read_str(r, 0, filename);
    r->len2 = read_argv(r, r->len1, argv);
    u32 tid = (u32)id;
    if (exec_pending.update(&tid, r) != 0) {
        stat_add(ST_SEEN, 1);
        stat_add(ST_LOST, 1);
        stat_add(ST_PENDING_FULL, 1);
    }
    return 0;
}

static __always_inline int exec_enter_raw(struct sc_enter *a)
{
    u32 nr = (u32)a->id;
    if (nr == __NR_execveat)  /* execveat(dirfd, path, argv, envp, flags) */
        return exec_enter(nr, (const char *)a->args[1], (const char *const *)a->args[2], a->args[0], a->args[4]);
    return exec_enter(nr, (const char *)a->args[0], (const char *const *)a->args[1], (u64)-100, 0);
}

/* Send the parked exec record for `key` with the final identity and result. `kernel_name`
 * is the kernel's own copy of the path (sched_process_exec), used when the caller's string
 * could not be read at enter: a page not faulted in yet after fork, which BPF cannot fault. */
static __always_inline int exec_finish(u32 key, s64 ret, const char *kernel_name)
{
    struct record *parked = exec_pending.lookup(&key);
    if (!parked)
        return 0;
    u32 zero = 0;
    struct record *r = scratch.lookup(&zero);
    if (!r) {
        exec_pending.delete(&key);
        return 0;
    }
    bpf_probe_read_kernel(r, sizeof(*r), parked);
    exec_pending.delete(&key);
    u64 id = bpf_get_current_pid_tgid();
    r->h.ts = bpf_ktime_get_ns();
    r->h.tgid = id >> 32;
    r->h.tid = (u32)id;
    r->h.cgroup_id = bpf_get_current_cgroup_id();
    r->h.retval = ret;  /* credentials, namespace pid and comm: submit() stamps them now */
    if (r->len1 == 0 && kernel_name) {
        long n = bpf_probe_read_kernel_str(&r->buf[0], STR_CHUNK, kernel_name);
        r->len1 = n > 0 ? (u32)n : 0;
        r->len2 = 0;  /* argv sat where the path now is; user space falls back to /proc */
    }
    submit(r, 0);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exec)
{
    const char *name = (const char *)args + (args->data_loc_filename & 0xFFFF);
#ifdef ENFORCE_KILL
    enforce_note_exec(name);
#endif
    return exec_finish(args->old_pid, 0, name);
}

static __always_inline int exec_exit(long ret)
{
    if (ret == 0)
        return 0;               /* success was sent by sched_process_exec */
    return exec_finish((u32)bpf_get_current_pid_tgid(), ret, 0);
}

/* Remember clone flags so sched_process_fork can tell threads from processes. */
static __always_inline int clone_enter(struct sc_enter *a)
{
    u32 tid = (u32)bpf_get_current_pid_tgid();
    u64 flags = a->args[0];
    if ((u32)a->id == __NR_clone3) {  /* clone3(struct clone_args *uargs, size): flags first */
        flags = 0;
        bpf_probe_read_user(&flags, sizeof(flags), (void *)a->args[0]);
    }
    clone_flags.update(&tid, &flags);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_fork)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = (u32)id;
    u32 parent = id >> 32;
    u32 child = args->child_pid;
    u64 *flags = clone_flags.lookup(&tid);
    int thread = flags && (*flags & CLONE_THREAD_FLAG);
    if (flags)
        clone_flags.delete(&tid);
    if (thread)
        return 0;
#ifdef ENFORCE_KILL
    enforce_note_fork(parent, child);
#endif
    if (excluded.lookup(&parent)) {
        u8 one = 1;
        excluded.update(&child, &one);
        return 0;
    }
    if (skip_task(parent) || !send_of(0, K_FORK, NOT_AN_OPEN))
        return 0;
    struct record *r = new_record(K_FORK, 0, child);
    if (!r)
        return 0;
    r->args[0] = parent;
    r->args[1] = child;
    submit(r, 0);
    return 0;
}

static __always_inline int exit_group_enter(struct sc_enter *a)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    u32 code = (u32)a->args[0];
    exit_codes.update(&tgid, &code);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit)
{
    if (!args->group_dead)
        return 0;
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    u32 *code = exit_codes.lookup(&tgid);
    u64 status = code ? *code : (u64)-1;
    exit_codes.delete(&tgid);
#ifdef ENFORCE_KILL
    enforce_forget(tgid);
#endif
    if (excluded.lookup(&tgid)) {
        excluded.delete(&tgid);
        return 0;
    }
    if (skip_task(tgid) || !send_of(0, K_EXIT, NOT_AN_OPEN))
        return 0;
    struct record *r = new_record(K_EXIT, 0, 0);
    if (!r)
        return 0;
    r->args[0] = status;
    r->args[1] = code ? 1 : 0;
    submit(r, 0);
    return 0;
}
