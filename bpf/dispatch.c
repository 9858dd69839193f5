/* Syscall dispatch, by role (`enum role`). SENSOR_* are defined by the loader for what is
 * enabled. Two ways in, chosen by the loader:
 *  - per-syscall (the default): the loader appends, for every traced syscall, a
 *    syscalls:sys_enter_<name> probe (and sys_exit_<name> for roles completed at exit) that
 *    calls sc_enter/sc_exit with its role as a constant. A syscall nobody traces runs no
 *    BPF program at all: a server's read/recvfrom/epoll_wait pay only the kernel's bitmap test.
 *  - RAW_SYSCALLS (per-container syscall counting for profiles, which must see every call,
 *    or a kernel lacking a wanted per-syscall tracepoint): the two raw_syscalls tracepoints,
 *    which every syscall of the host passes, dispatched by the `syscall_role` table.
 */
static __always_inline int sensor_enter(struct sc_enter *a, u32 role)
{
    switch (role) {
    case R_NONE:
        return 0;
#ifdef SENSOR_PROCESS
    case K_EXEC:
        return send_of(a->id, 0, NOT_AN_OPEN) ? exec_enter_raw(a) : 0;
    case R_CLONE:
        return clone_enter(a);
    case R_EXIT_GROUP:
        return exit_group_enter(a);
#endif
#ifdef SENSOR_NETWORK
    case R_DNS_WRITE:
    case R_DNS_SENDTO:
    case R_DNS_SENDMSG:
    case R_DNS_SENDMMSG:
        return dns_enter(a, role);
#endif
    default:  /* interest first: an unwanted call is not even parked */
        return send_of(a->id, 0, open_flags(a)) ? stash(a, role) : 0;
    }
}

static __always_inline int sc_enter(struct sc_enter *a, u32 role)
{
#ifdef ENFORCE_KILL
    int killed = enforce_enter(a, role);  /* first: verified once, not once per sensor path */
#endif
    sensor_enter(a, role);
#ifdef ENFORCE_KILL
    if (killed)
        enforce_mark(role);  /* on the record the sensor just parked */
#endif
    return 0;
}

static __always_inline int sc_exit(struct sc_exit *a, u32 role)
{
    switch (role) {
#ifdef SENSOR_PROCESS
    case K_EXEC:
        return exec_exit(a->ret);
#endif
#ifdef SENSOR_FILE
    case K_FILE:
    case K_CHDIR:
        return finish_file(a);
#endif
#ifdef SENSOR_NETWORK
    case K_NET:
        return finish_net(a);
#endif
#ifdef SENSOR_SYSCALL
    case K_SYSCALL:
        return finish_syscall(a);
#endif
    default:
        return 0;
    }
}

#ifdef RAW_SYSCALLS
static __always_inline u32 role_of(u32 nr)
{
    u32 *slot = syscall_role.lookup(&nr);  /* an array: out-of-range numbers find nothing */
    return slot ? *slot : R_NONE;
}

TRACEPOINT_PROBE(raw_syscalls, sys_enter)
{
    struct sc_enter *a = (struct sc_enter *)args;
    u32 nr = (u32)a->id;
    if (nr >= SYSCALL_SLOTS)
        return 0;
#ifdef SYSCALL_COUNTS
    count_syscall(nr);
#endif
    u32 role = role_of(nr);
    return role == R_NONE ? 0 : sc_enter(a, role);
}

TRACEPOINT_PROBE(raw_syscalls, sys_exit)
{
    return sc_exit((struct sc_exit *)args, role_of((u32)args->id));
}
#endif
