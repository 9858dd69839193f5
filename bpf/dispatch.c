/* The two syscall tracepoints: every syscall of the host passes here and is dispatched by
 * `syscall_role` (an array lookup, inlined by the verifier); untraced syscalls return at
 * once. SENSOR_* and SYSCALL_COUNTS are defined by the loader for what is enabled.
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

TRACEPOINT_PROBE(raw_syscalls, sys_enter)
{
    struct sc_enter *a = (struct sc_enter *)args;
    u32 nr = (u32)a->id;
    if (nr >= SYSCALL_SLOTS)
        return 0;
    barrier_var(nr);
    nr &= SYSCALL_SLOTS - 1;
#ifdef SYSCALL_COUNTS
    count_syscall(nr);
#endif
    u32 *slot = syscall_role.lookup(&nr);
    u32 role = slot ? *slot : R_NONE;
    if (role == R_NONE)
        return 0;
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

TRACEPOINT_PROBE(raw_syscalls, sys_exit)
{
    u32 nr = (u32)args->id;
    if (nr >= SYSCALL_SLOTS)
        return 0;
    barrier_var(nr);
    nr &= SYSCALL_SLOTS - 1;
    u32 *slot = syscall_role.lookup(&nr);
    u32 role = slot ? *slot : R_NONE;
    switch (role) {
#ifdef SENSOR_PROCESS
    case K_EXEC:
        return exec_exit(args->ret);
#endif
#ifdef SENSOR_FILE
    case K_FILE:
    case K_CHDIR:
        return finish_file(args);
#endif
#ifdef SENSOR_NETWORK
    case K_NET:
        return finish_net(args);
#endif
#ifdef SENSOR_SYSCALL
    case K_SYSCALL:
        return finish_syscall(args);
#endif
    default:
        return 0;
    }
}
