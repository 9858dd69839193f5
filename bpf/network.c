/* Network sensor: socket, connect, bind, listen, accept/accept4 (peer address read at exit),
 * TCP state transitions, and DNS questions: any sendto/sendmsg/sendmmsg to port 53, or on a
 * socket connected to port 53, has its payload (bounded) sent for user space to parse.
 */
#define SOCKADDR_MAX 128

struct user_msghdr_uapi {
    void *msg_name;
    int msg_namelen;
    int pad;
    void *msg_iov;
    u64 msg_iovlen;
};

struct iovec_uapi {
    void *base;
    u64 len;
};

static __always_inline u64 fd_key(u64 fd)
{
    return ((bpf_get_current_pid_tgid() >> 32) << 32) | (u32)fd;
}

static __always_inline u16 sockaddr_port(void *addr)
{
    u16 port = 0;
    if (addr)
        bpf_probe_read_user(&port, sizeof(port), addr + 2);
    return (port >> 8) | (port << 8);
}

static __always_inline int finish_net(void *ctx)
{
    struct pending p;
    struct record *r = resume(ctx, &p);
    if (!r)
        return 0;
    u64 *a = p.args;
    long ret = r->h.retval;
    switch (p.nr) {
    case __NR_connect:
    case __NR_bind: {
        r->len1 = read_blob(r, 0, (void *)a[1], a[2], SOCKADDR_MAX);
        if (p.nr == __NR_connect) {
            u64 key = fd_key(a[0]);
            if (sockaddr_port((void *)a[1]) == 53) {
                u8 one = 1;
                dns_fds.update(&key, &one);
            } else {
                dns_fds.delete(&key);
            }
        }
        break;
    }
    case __NR_accept:
    case __NR_accept4: {
        int len = 0;
        if (a[1] && a[2] && ret >= 0) {
            bpf_probe_read_user(&len, sizeof(len), (void *)a[2]);
            if (len > 0)
                r->len1 = read_blob(r, 0, (void *)a[1], len, SOCKADDR_MAX);
        }
        break;
    }
    case __NR_socket:
        if (ret >= 0) {
            u64 key = fd_key(ret);
            dns_fds.delete(&key);
        }
        break;
    default: /* listen */
        break;
    }
    submit(r, 1);
    return 0;
}

/* A DNS question leaves through sendto/sendmsg/sendmmsg, or write() on a socket connected
 * to port 53 (busybox nslookup); all end here with the payload. */
static __always_inline int dns_emit(u32 nr, u64 fd, void *payload, u64 len, void *addr, u64 addrlen)
{
    u64 id = bpf_get_current_pid_tgid();
    if (addr) {
        if (sockaddr_port(addr) != 53)
            return 0;
    } else {
        u64 key = fd_key(fd);
        if (!dns_fds.lookup(&key))
            return 0;
    }
    if (skip_task(id >> 32) || !send_of(nr, 0, NOT_AN_OPEN))
        return 0;
    struct record *r = new_record(K_DNS, nr, 0);
    if (!r)
        return 0;
    r->args[0] = fd;
    r->args[1] = len;
    r->len1 = read_blob(r, 0, payload, len, DNS_PAYLOAD);
    r->len2 = read_blob(r, r->len1, addr, addrlen, SOCKADDR_MAX);  /* right after the payload */
    submit(r, 1);
    return 0;
}

static __always_inline int dns_from_msghdr(u32 nr, u64 fd, void *msg)
{
    struct user_msghdr_uapi m = {};
    struct iovec_uapi iov = {};
    if (bpf_probe_read_user(&m, sizeof(m), msg) || !m.msg_iov || !m.msg_iovlen)
        return 0;
    if (bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov))
        return 0;
    return dns_emit(nr, fd, iov.base, iov.len, m.msg_name, m.msg_name ? m.msg_namelen : 0);
}

/* write(fd, buf, n); sendto(fd, buf, n, flags, addr, addrlen); sendmsg(fd, msg, flags);
 * sendmmsg(fd, mmsg, vlen, flags): struct mmsghdr starts with the first message's msghdr. */
static __always_inline int dns_enter(struct sc_enter *a, u32 role)
{
    u32 nr = (u32)a->id;
    u64 *x = a->args;
    if (role == R_DNS_WRITE)  /* every write() passes here: one hash miss unless a DNS socket */
        return dns_emit(nr, x[0], (void *)x[1], x[2], 0, 0);
    if (role == R_DNS_SENDTO)
        return dns_emit(nr, x[0], (void *)x[1], x[2], (void *)x[4], x[5]);
    return dns_from_msghdr(nr, x[0], (void *)x[1]);
}

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    if (args->protocol != 6)
        return 0;
    u64 id = bpf_get_current_pid_tgid();
    if (skip_task(id >> 32) || !send_of(0, K_TCP_STATE, NOT_AN_OPEN))
        return 0;
    struct record *r = new_record(K_TCP_STATE, 0, 0);
    if (!r)
        return 0;
    r->args[0] = args->oldstate;
    r->args[1] = args->newstate;
    r->args[2] = args->sport;
    r->args[3] = args->dport;
    r->args[4] = args->family;
    if (args->family == 2) {
        bpf_probe_read_kernel(&r->buf[0], 4, args->saddr);
        bpf_probe_read_kernel(&r->buf[4], 4, args->daddr);
        r->len1 = 4;
        r->len2 = 4;
    } else {
        bpf_probe_read_kernel(&r->buf[0], 16, args->saddr_v6);
        bpf_probe_read_kernel(&r->buf[16], 16, args->daddr_v6);
        r->len1 = 16;
        r->len2 = 16;
    }
    submit(r, 0);
    return 0;
}
