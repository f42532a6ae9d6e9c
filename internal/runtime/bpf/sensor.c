// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Palisade's runtime sensor: tracepoints, and fentry on three kernel
// functions where the kernel has BTF trampolines (the syscall tracepoints
// they replace put every syscall of the node on the tracing slow path; user
// space falls back to those tracepoints where fentry is refused). No
// kprobes. CO-RE through the few kernel structs declared below rather than a
// generated vmlinux.h, so the kernel surface this program depends on is the
// dozen fields in this file and a reviewer can see every one of them.
//
// Every record starts with struct rec_hdr {version, type, size}; user space
// refuses records whose version or size it does not know.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define REC_VERSION 1
#define REC_EXEC 1
#define REC_EXIT 2
#define REC_CONNECT 3
#define REC_ACCEPT 4
#define REC_OPEN 5
#define REC_UDP_SEND 6
#define REC_ESTABLISHED 7
#define REC_UDP_RECV 8

#define PATH_MAX_LEN 256
#define ARGS_MAX_LEN 256

#define AF_INET 2
#define AF_INET6 10
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3

// Kernel structs, only the fields read; CO-RE relocates the offsets against
// the running kernel's BTF at load time.
struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct net *net_ns;
} __attribute__((preserve_access_index));

struct kernfs_node {
	__u64 id;
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct sock_cgroup_data {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

struct in6_addr {
	__u8 in6_u[16];
} __attribute__((preserve_access_index));

// In the kernel these sit in anonymous unions and structs; CO-RE finds a
// field by name through anonymous members.
struct sock_common {
	__u32 skc_daddr;
	__u32 skc_rcv_saddr;
	__u16 skc_dport; // network order
	__u16 skc_num;   // host order
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct sk_buff *prev;
	unsigned char *head;
	__u16 transport_header; // offsets from head
	__u16 network_header;
} __attribute__((preserve_access_index));

// In the kernel next and prev sit in a struct_group (an anonymous union);
// CO-RE finds them by name.
struct sk_buff_head {
	struct sk_buff *prev;
	__u32 qlen;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	struct sock_cgroup_data sk_cgrp_data;
	struct sk_buff_head sk_receive_queue;
} __attribute__((preserve_access_index));

struct linux_binprm {
	const char *filename;
} __attribute__((preserve_access_index));

struct sockaddr {
	unsigned short sa_family;
} __attribute__((preserve_access_index));

struct msghdr {
	void *msg_name;
	int msg_namelen;
} __attribute__((preserve_access_index));

struct filename {
	const char *name;
} __attribute__((preserve_access_index));

struct open_flags {
	int open_flag;
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	int exit_code;
	struct task_struct *real_parent;
	struct mm_struct *mm;
	struct nsproxy *nsproxy;
} __attribute__((preserve_access_index));

struct rec_hdr {
	__u16 version;
	__u16 type;
	__u32 size;
	__u64 ts_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tgid;
	__u32 ppid;
	__u32 uid;
	__u32 netns;
	__u32 pad;
};

struct exec_rec {
	struct rec_hdr h;
	__u16 path_len;
	__u16 args_len;
	__u32 pad;
	char path[PATH_MAX_LEN];
	char args[ARGS_MAX_LEN];
};

struct exit_rec {
	struct rec_hdr h;
	__s32 exit_code;
	__u32 pad;
};

struct conn_rec {
	struct rec_hdr h;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 proto;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct open_rec {
	struct rec_hdr h;
	__u16 path_len;
	__u16 pad;
	__u32 flags;
	char path[PATH_MAX_LEN];
};

// config[0]: cgroup id whose events are dropped in the kernel (the host's
// root cgroup when the operator wants containers only; 0 = keep all).
// config[1]: window in ns within which a repeated connect from one cgroup to
// one destination is suppressed (0 = report every connect).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} config SEC(".maps");

// drops counts records lost because the ring buffer was full, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

// events is 2 MiB unless user space sets another size at load
// (Options.RingBytes): user space maps it twice (its pages count in the
// agent's RSS, 4 MiB) and drains it every 10 ms, woken early at
// WAKE_BYTES; at 100,000 records/s (96 bytes each) it holds 0.2 s of
// events for a reader that a busy node does not schedule in time.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 21);
} events SEC(".maps");

struct conn_key {
	__u64 cgroup_id;
	__u8 daddr[16];
	__u16 dport;
	__u16 family;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn_key);
	__type(value, __u64);
} seen_conns SEC(".maps");

// submit hands a record to user space without waking the reader, which
// polls the ring on a short timer (Sensor.Run): a wakeup per record costs
// the workload an irq_work, a self-interrupt (a VM exit under a
// hypervisor), in every traced syscall. Once WAKE_BYTES are waiting the
// reader is woken at once, so a burst cannot fill the ring before the
// next poll.
#define WAKE_BYTES (1 << 18)

static __always_inline void submit(void *r)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKE_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(r, flags);
}

static __always_inline __u64 cfg(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&config, &k);
	return v ? *v : 0;
}

static __always_inline void count_drop(void)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&drops, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

// skipped says whether the cgroup filter drops the current task's events;
// it is checked before a record is reserved.
static __always_inline int skipped(__u64 cg)
{
	__u64 skip = cfg(0);
	return skip != 0 && cg == skip;
}

// task_btf says whether the kernel has bpf_get_current_task_btf (5.11+):
// the current task as a BTF-typed pointer, whose fields are plain loads
// (the JIT guards them against faults: a NULL nsproxy of an exiting task
// reads as 0) instead of a bpf_probe_read_kernel call each. A CO-RE
// relocation against the kernel's list of helpers, so the verifier sees a
// constant and never checks the branch the kernel cannot run: one object
// for 5.8+ kernels.
#define task_btf() bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

// fill_hdr fills the common header from the current task.
static __always_inline void fill_hdr(struct rec_hdr *h, __u16 type, __u32 size, __u64 cg)
{
	__u64 pt = bpf_get_current_pid_tgid();
	h->version = REC_VERSION;
	h->type = type;
	h->size = size;
	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = cg;
	h->pid = (__u32)pt;
	h->tgid = pt >> 32;
	h->uid = (__u32)bpf_get_current_uid_gid();
	if (task_btf()) {
		struct task_struct *t = bpf_get_current_task_btf();
		h->ppid = t->real_parent->tgid;
		h->netns = t->nsproxy->net_ns->ns.inum;
	} else {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		h->ppid = BPF_CORE_READ(t, real_parent, tgid);
		h->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
	}
	h->pad = 0;
}

// seen says whether key was reported within the connect window, and
// records it as reported now if not; it runs before a record is reserved,
// so a repeated destination costs one map lookup and no ring-buffer space.
static __always_inline int seen(struct conn_key *key)
{
	__u64 window = cfg(1);
	if (window == 0)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&seen_conns, key);
	if (last && now - *last < window)
		return 1;
	bpf_map_update_elem(&seen_conns, key, &now, BPF_ANY);
	return 0;
}

// Raw tracepoints: the program gets the tracepoint's arguments as they are,
// where a classic tracepoint first copies every field of the event into a
// perf buffer. sched_process_exec(p, old_pid, bprm); current is p.
SEC("raw_tracepoint/sched_process_exec")
int on_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (skipped(cg))
		return 0;
	struct exec_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	fill_hdr(&r->h, REC_EXEC, sizeof(*r), cg);
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	const char *fn = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(r->path, sizeof(r->path), fn);
	r->path_len = n > 0 ? n - 1 : 0;
	unsigned long as, ae;
	if (task_btf()) {
		struct task_struct *t = bpf_get_current_task_btf();
		as = t->mm->arg_start;
		ae = t->mm->arg_end;
	} else {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		as = BPF_CORE_READ(t, mm, arg_start);
		ae = BPF_CORE_READ(t, mm, arg_end);
	}
	__u64 alen = ae > as ? ae - as : 0;
	if (alen >= ARGS_MAX_LEN)
		alen = ARGS_MAX_LEN - 1; // argv is capped; the cap is in the docs
	alen &= ARGS_MAX_LEN - 1;   // a bound the verifier can see
	r->args_len = 0;
	if (alen > 0 && bpf_probe_read_user(r->args, alen, (void *)as) == 0)
		r->args_len = alen;
	r->pad = 0;
	submit(r);
	return 0;
}

// sched_process_exit(p, ...); current is p.
SEC("raw_tracepoint/sched_process_exit")
int on_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if ((__u32)pt != (pt >> 32))
		return 0; // threads: only the process's exit matters
	__u64 cg = bpf_get_current_cgroup_id();
	if (skipped(cg))
		return 0;
	struct exit_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	fill_hdr(&r->h, REC_EXIT, sizeof(*r), cg);
	if (task_btf()) {
		r->exit_code = bpf_get_current_task_btf()->exit_code;
	} else {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		r->exit_code = BPF_CORE_READ(t, exit_code);
	}
	r->pad = 0;
	submit(r);
	return 0;
}

struct connect_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 fd;
	void *uservaddr;
	__u64 addrlen;
};

struct sockaddr_in_ {
	__u16 family;
	__u16 port;
	__u8 addr[4];
};

struct sockaddr_in6_ {
	__u16 family;
	__u16 port;
	__u32 flowinfo;
	__u8 addr[16];
};

// emit_dest reports a destination from a sockaddr (connect, or a UDP
// datagram's explicit address) once per cgroup, destination and kind
// within the connect window: the caller's copy in user space for the
// syscall tracepoints (user != 0), the kernel's copy of it for the fentry
// programs.
static __always_inline int emit_dest(const void *addr, __u64 alen, int user, __u16 type, __u16 proto)
{
	if (!addr || alen < sizeof(struct sockaddr_in_))
		return 0;
	__u64 cg = bpf_get_current_cgroup_id();
	if (skipped(cg))
		return 0;
	// One read of what the caller passed, at most a sockaddr_in6: reading
	// past a shorter sockaddr could fault at a page's end.
	struct sockaddr_in6_ sa = {};
	if (alen > sizeof(sa))
		alen = sizeof(sa);
	long err = user ? bpf_probe_read_user(&sa, alen, addr) : bpf_probe_read_kernel(&sa, alen, addr);
	if (err != 0)
		return 0;
	struct conn_key key = {};
	if (sa.family == AF_INET) {
		struct sockaddr_in_ *s4 = (struct sockaddr_in_ *)&sa;
		key.dport = s4->port;
		__builtin_memcpy(key.daddr, s4->addr, 4);
	} else if (sa.family == AF_INET6 && alen >= sizeof(sa)) {
		key.dport = sa.port;
		__builtin_memcpy(key.daddr, sa.addr, 16);
	} else {
		return 0; // unix sockets and others are not network egress
	}
	key.family = sa.family;
	key.pad = type;
	key.cgroup_id = cg;
	if (seen(&key))
		return 0;
	struct conn_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	fill_hdr(&r->h, type, sizeof(*r), cg);
	r->family = key.family;
	r->sport = 0;
	r->dport = __builtin_bswap16(key.dport);
	r->proto = proto;
	__builtin_memset(r->saddr, 0, 16);
	__builtin_memcpy(r->daddr, key.daddr, 16);
	submit(r);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int on_connect(struct connect_ctx *ctx)
{
	// proto 0: connect() says nothing of the socket's type (TCP, or a
	// connected UDP socket); user space reports it as a connect.
	return emit_dest(ctx->uservaddr, ctx->addrlen, 1, REC_CONNECT, 0);
}

struct sendto_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 fd;
	void *buff;
	__u64 len;
	__u64 flags;
	void *addr;
	__u64 addr_len;
};

// A datagram sent to an explicit address (sendto with an address: UDP
// without connect, as DNS clients and exfiltration tools do).
SEC("tracepoint/syscalls/sys_enter_sendto")
int on_sendto(struct sendto_ctx *ctx)
{
	return emit_dest(ctx->addr, ctx->addr_len, 1, REC_UDP_SEND, 17);
}

struct openat_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

#define PREFIX_LEN 24

// Sensitive paths, compared on their first bytes in the kernel (user space
// decides): /etc/shadow, other pods' volumes (service-account tokens) under
// the kubelet's directory, and the container runtimes' sockets.
static __always_inline int sensitive(const char *p)
{
	static const char pre[][PREFIX_LEN] = {
		"/etc/shadow", "/var/lib/kubelet/pods/", "/run/containerd/", "/var/run/containerd/",
		"/run/docker.sock", "/var/run/docker.sock", "/run/crio/", "/var/run/crio/", "/run/k3s/containerd/",
	};
#pragma unroll
	for (int i = 0; i < (int)(sizeof(pre) / sizeof(pre[0])); i++) {
		int match = 1;
#pragma unroll
		for (int j = 0; j < PREFIX_LEN; j++) {
			if (pre[i][j] == 0)
				break;
			if (p[j] != pre[i][j]) {
				match = 0;
				break;
			}
		}
		if (match)
			return 1;
	}
	return 0;
}

// emit_open reports the opening of a sensitive path: name is the path as
// the caller passed it, in user space (user != 0) or the kernel's copy.
static __always_inline int emit_open(const char *name, int user, __u32 flags)
{
	char head[PREFIX_LEN] = {};
	long n = user ? bpf_probe_read_user_str(head, sizeof(head), name)
		      : bpf_probe_read_kernel_str(head, sizeof(head), name);
	if (n <= 0 || !sensitive(head))
		return 0;
	__u64 cg = bpf_get_current_cgroup_id();
	if (skipped(cg))
		return 0;
	struct open_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	fill_hdr(&r->h, REC_OPEN, sizeof(*r), cg);
	n = user ? bpf_probe_read_user_str(r->path, sizeof(r->path), name)
		 : bpf_probe_read_kernel_str(r->path, sizeof(r->path), name);
	r->path_len = n > 0 ? n - 1 : 0;
	r->pad = 0;
	r->flags = flags;
	submit(r);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct openat_ctx *ctx)
{
	return emit_open(ctx->filename, 1, (__u32)ctx->flags);
}

// The fentry programs below see the same events as the three syscall
// tracepoints above, from kernel functions every such syscall calls with
// the arguments already copied in: attached through a BTF trampoline (only
// the traced function pays), where an enabled syscall tracepoint puts every
// syscall of every task on the node on the tracing slow path. The
// functions' arguments are typed (BTF), so their fields are plain loads.
// They also see what the syscall tracepoints miss: io_uring's connects,
// sends and opens, sendmsg and sendmmsg with an address, open(2), creat
// and openat2.

// security_socket_connect(sock, address, addrlen): every connect(2) (and
// io_uring's) with the address in kernel memory. Non-inet families (most
// connects on a node are to unix sockets) return after one load.
SEC("fentry/security_socket_connect")
int on_connect_fentry(__u64 *ctx)
{
	const struct sockaddr *sa = (const struct sockaddr *)ctx[1];
	__u16 family = sa->sa_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return emit_dest(sa, (__u64)(int)ctx[2], 0, REC_CONNECT, 0);
}

// security_socket_sendmsg(sock, msg, size): every send on a socket (write,
// send, sendto, sendmsg, sendmmsg, io_uring); only one with an explicit
// destination (msg_name: sendto's address, sendmsg's msg_name, copied in
// by the kernel) is reported, as sys_enter_sendto's are.
SEC("fentry/security_socket_sendmsg")
int on_sendmsg_fentry(__u64 *ctx)
{
	const struct msghdr *msg = (const struct msghdr *)ctx[1];
	const void *name = msg->msg_name;
	if (!name)
		return 0;
	return emit_dest(name, (__u64)msg->msg_namelen, 0, REC_UDP_SEND, 17);
}

// O_LARGEFILE, which the kernel adds to every open on 64-bit machines.
#define O_LARGEFILE_ 0100000

// do_filp_open(dfd, pathname, op): every open by name (openat, open,
// creat, openat2, io_uring's) with the path as the caller passed it,
// copied in. op->open_flag is the caller's flags less O_CLOEXEC (the
// kernel keeps it elsewhere) plus O_LARGEFILE, which is removed here so
// that the access mode and creation flags read as the syscall's.
SEC("fentry/do_filp_open")
int on_open_fentry(__u64 *ctx)
{
	const struct filename *pathname = (const struct filename *)ctx[1];
	const struct open_flags *op = (const struct open_flags *)ctx[2];
	return emit_open(pathname->name, 0, (__u32)op->open_flag & ~O_LARGEFILE_);
}

// inet_sock_set_state(sk, oldstate, newstate) runs on every TCP state
// change of the node (six per short connection on loopback, four of them
// uninteresting), so both programs below test the new and old state before
// anything else and return at once for those.
//
// An inbound accept is a TCP socket going from SYN_RECV to ESTABLISHED: only
// passive opens pass through SYN_RECV. An outbound connection that was
// answered goes from SYN_SENT to ESTABLISHED: unlike sys_enter_connect (an
// attempt), it proves the peer was reached, which is what judging a
// connection against NetworkPolicies needs. Both run in softirq context, so
// the current task is not the socket's: the record carries the socket's own
// cgroup (the listener's for an accept, the connecting task's for an
// outbound socket) and no process. Both are reported once per cgroup, peer
// and port (the listening port for an accept) within the connect window.

// state_type maps a transition to the record it is reported as, 0 for the
// transitions that are not reported.
static __always_inline __u16 state_type(__u64 oldstate, __u64 newstate)
{
	if ((int)newstate != TCP_ESTABLISHED)
		return 0;
	if ((int)oldstate == TCP_SYN_RECV)
		return REC_ACCEPT;
	if ((int)oldstate == TCP_SYN_SENT)
		return REC_ESTABLISHED;
	return 0;
}

// reserve_state checks the window for key and reserves and fills the
// record of a transition but its source address, which the caller reads
// only for a record that is reported; NULL when nothing is to be reported.
static __always_inline struct conn_rec *reserve_state(struct conn_key *key, __u16 sport, __u16 dport)
{
	if (skipped(key->cgroup_id))
		return 0;
	if (seen(key))
		return 0;
	struct conn_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	__builtin_memset(&r->h, 0, sizeof(r->h));
	r->h.version = REC_VERSION;
	r->h.type = (__u16)key->pad; // the record type; the UDP receive's local port is above it
	r->h.size = sizeof(*r);
	r->h.ts_ns = bpf_ktime_get_ns();
	r->h.cgroup_id = key->cgroup_id;
	r->family = key->family;
	r->sport = sport;
	r->dport = dport;
	r->proto = 6;
	__builtin_memset(r->saddr, 0, 16);
	__builtin_memcpy(r->daddr, key->daddr, 16);
	return r;
}

// on_sock_state_btf is the BTF-typed raw tracepoint (tp_btf, kernel 5.5+):
// the verifier knows sk is a struct sock, so its fields are plain loads
// (guarded against faults by the JIT) instead of a bpf_probe_read_kernel
// call each. Open falls back to on_sock_state where it cannot load.
SEC("tp_btf/inet_sock_set_state")
int on_sock_state_btf(__u64 *ctx)
{
	__u16 type = state_type(ctx[1], ctx[2]);
	if (!type)
		return 0;
	const struct sock *sk = (const struct sock *)ctx[0];
	if (sk->sk_protocol != 6)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	__u16 sport = sk->__sk_common.skc_num;
	__u16 dport = __builtin_bswap16(sk->__sk_common.skc_dport);
	struct conn_key key = {};
	// The accepted socket inherits the listener's cgroup (sk_clone_lock
	// copies sk_cgrp_data): the listening container's, not the softirq's.
	key.cgroup_id = sk->sk_cgrp_data.cgroup->kn->id;
	key.family = family;
	key.pad = type;
	// The peer's address; the remote port for a connection, the local
	// (listening) port for an accept, whose peer port is ephemeral.
	key.dport = type == REC_ACCEPT ? sport : dport;
	if (family == AF_INET6) {
		__builtin_memcpy(key.daddr, &sk->__sk_common.skc_v6_daddr, 16);
	} else {
		__u32 d4 = sk->__sk_common.skc_daddr;
		__builtin_memcpy(key.daddr, &d4, 4);
	}
	struct conn_rec *r = reserve_state(&key, sport, dport);
	if (!r)
		return 0;
	if (family == AF_INET6) {
		__builtin_memcpy(r->saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
	} else {
		__u32 s4 = sk->__sk_common.skc_rcv_saddr;
		__builtin_memcpy(r->saddr, &s4, 4);
	}
	submit(r);
	return 0;
}

// on_sock_state is the same as a plain raw tracepoint, for kernels that
// cannot load tp_btf programs: every field of sk is a probe read.
SEC("raw_tracepoint/inet_sock_set_state")
int on_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	__u16 type = state_type(ctx->args[1], ctx->args[2]);
	if (!type)
		return 0;
	const struct sock *sk = (const struct sock *)ctx->args[0];
	if (BPF_CORE_READ(sk, sk_protocol) != 6)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	struct conn_key key = {};
	key.cgroup_id = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	key.family = family;
	key.pad = type;
	key.dport = type == REC_ACCEPT ? sport : dport;
	// (BPF_CORE_READ_INTO reads the size of its destination: the IPv4
	// fields are read into 4-byte variables, not into the 16-byte arrays.)
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&key.daddr, sk, __sk_common.skc_v6_daddr);
	} else {
		__u32 d4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(key.daddr, &d4, 4);
	}
	struct conn_rec *r = reserve_state(&key, sport, dport);
	if (!r)
		return 0;
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&r->saddr, sk, __sk_common.skc_v6_rcv_saddr);
	} else {
		__u32 s4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(r->saddr, &s4, 4);
	}
	submit(r);
	return 0;
}

// sk_data_ready(sk) (kernel 6.3+) runs whenever data is queued on a socket
// (sock_def_readable, the default callback, which UDP uses): for UDP, once
// per datagram just queued on sk_receive_queue, in softirq context. A
// datagram queued on a socket has passed the node's packet filters and the
// network plugin's policy enforcement: it was delivered, which a send is
// not. The program reads the newest datagram on the queue (the one just
// queued, unless the reader took it meanwhile or a later one followed) and
// reports its source once per cgroup, source and local port within the
// connect window. The queue is read without its lock, so the datagram's UDP
// destination port must be the socket's own port, and its IP version 4 or
// 6, or nothing is reported: a buffer reused meanwhile is not taken for a
// datagram. TCP sockets return after one load.
SEC("tp_btf/sk_data_ready")
int on_data_ready_btf(__u64 *ctx)
{
	const struct sock *sk = (const struct sock *)ctx[0];
	if (sk->sk_protocol != 17)
		return 0;
	if (sk->sk_receive_queue.qlen == 0)
		return 0;
	struct sk_buff *skb = sk->sk_receive_queue.prev;
	if (!skb)
		return 0;
	unsigned char *head = skb->head;
	__u16 nh = skb->network_header, th = skb->transport_header;
	__u16 lport = sk->__sk_common.skc_num;
	__u8 ip[40] = {};
	__u16 udp[2] = {};
	if (bpf_probe_read_kernel(udp, sizeof(udp), head + th) != 0)
		return 0;
	if (udp[1] != __builtin_bswap16(lport))
		return 0;
	if (bpf_probe_read_kernel(ip, sizeof(ip), head + nh) != 0)
		return 0;
	struct conn_key key = {};
	__u8 local[16] = {};
	switch (ip[0] >> 4) {
	case 4:
		key.family = AF_INET;
		__builtin_memcpy(key.daddr, &ip[12], 4);
		__builtin_memcpy(local, &ip[16], 4);
		break;
	case 6:
		key.family = AF_INET6;
		__builtin_memcpy(key.daddr, &ip[8], 16);
		__builtin_memcpy(local, &ip[24], 16);
		break;
	default:
		return 0;
	}
	__u16 peer = __builtin_bswap16(udp[0]);
	key.cgroup_id = sk->sk_cgrp_data.cgroup->kn->id;
	key.dport = peer;
	key.pad = REC_UDP_RECV | ((__u32)lport << 16);
	struct conn_rec *r = reserve_state(&key, lport, peer);
	if (!r)
		return 0;
	r->proto = 17;
	// A connected UDP socket (TCP_ESTABLISHED) only takes datagrams from
	// the address it connected to: the container sent to it first.
	r->h.pad = sk->__sk_common.skc_state == TCP_ESTABLISHED;
	__builtin_memcpy(r->saddr, local, 16);
	submit(r);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
