// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Palisade's runtime sensor: stable tracepoints only (no kprobes, no
// fentry), CO-RE through the few kernel structs declared below rather than a
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

struct sock {
	struct sock_cgroup_data sk_cgrp_data;
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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
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

// fill_hdr fills the common header from the current task; it returns 0 when
// the event must be dropped by the cgroup filter.
static __always_inline int fill_hdr(struct rec_hdr *h, __u16 type, __u32 size)
{
	__u64 cg = bpf_get_current_cgroup_id();
	__u64 skip = cfg(0);
	if (skip != 0 && cg == skip)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u64 pt = bpf_get_current_pid_tgid();
	h->version = REC_VERSION;
	h->type = type;
	h->size = size;
	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = cg;
	h->pid = (__u32)pt;
	h->tgid = pt >> 32;
	h->ppid = BPF_CORE_READ(t, real_parent, tgid);
	h->uid = (__u32)bpf_get_current_uid_gid();
	h->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
	h->pad = 0;
	return 1;
}

struct exec_ctx {
	__u64 common;
	__u32 filename_loc;
	__s32 pid;
	__s32 old_pid;
};

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct exec_ctx *ctx)
{
	struct exec_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	if (!fill_hdr(&r->h, REC_EXEC, sizeof(*r))) {
		bpf_ringbuf_discard(r, 0);
		return 0;
	}
	__u32 off = ctx->filename_loc & 0xffff;
	long n = bpf_probe_read_kernel_str(r->path, sizeof(r->path), (char *)ctx + off);
	r->path_len = n > 0 ? n - 1 : 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	unsigned long as = BPF_CORE_READ(t, mm, arg_start);
	unsigned long ae = BPF_CORE_READ(t, mm, arg_end);
	__u64 alen = ae > as ? ae - as : 0;
	if (alen >= ARGS_MAX_LEN)
		alen = ARGS_MAX_LEN - 1; // argv is capped; the cap is in the docs
	alen &= ARGS_MAX_LEN - 1;   // a bound the verifier can see
	r->args_len = 0;
	if (alen > 0 && bpf_probe_read_user(r->args, alen, (void *)as) == 0)
		r->args_len = alen;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();
	if ((__u32)pt != (pt >> 32))
		return 0; // threads: only the process's exit matters
	struct exit_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	if (!fill_hdr(&r->h, REC_EXIT, sizeof(*r))) {
		bpf_ringbuf_discard(r, 0);
		return 0;
	}
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	r->exit_code = BPF_CORE_READ(t, exit_code);
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
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

// emit_dest reports a destination from a user sockaddr (connect, or a UDP
// datagram's explicit address) once per cgroup, destination and kind
// within the connect window.
static __always_inline int emit_dest(const void *uaddr, __u16 type, __u16 proto)
{
	if (!uaddr)
		return 0;
	struct sockaddr_in6_ sa = {};
	if (bpf_probe_read_user(&sa, sizeof(__u16), uaddr) != 0)
		return 0;
	struct conn_key key = {};
	if (sa.family == AF_INET) {
		struct sockaddr_in_ s4 = {};
		if (bpf_probe_read_user(&s4, sizeof(s4), uaddr) != 0)
			return 0;
		key.dport = s4.port;
		__builtin_memcpy(key.daddr, s4.addr, 4);
	} else if (sa.family == AF_INET6) {
		if (bpf_probe_read_user(&sa, sizeof(sa), uaddr) != 0)
			return 0;
		key.dport = sa.port;
		__builtin_memcpy(key.daddr, sa.addr, 16);
	} else {
		return 0; // unix sockets and others are not network egress
	}
	key.family = sa.family;
	key.pad = type;
	key.cgroup_id = bpf_get_current_cgroup_id();
	__u64 window = cfg(1);
	__u64 now = bpf_ktime_get_ns();
	if (window != 0) {
		__u64 *last = bpf_map_lookup_elem(&seen_conns, &key);
		if (last && now - *last < window)
			return 0;
		bpf_map_update_elem(&seen_conns, &key, &now, BPF_ANY);
	}
	struct conn_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	if (!fill_hdr(&r->h, type, sizeof(*r))) {
		bpf_ringbuf_discard(r, 0);
		return 0;
	}
	r->family = key.family;
	r->sport = 0;
	r->dport = __builtin_bswap16(key.dport);
	r->proto = proto;
	__builtin_memset(r->saddr, 0, 16);
	__builtin_memcpy(r->daddr, key.daddr, 16);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int on_connect(struct connect_ctx *ctx)
{
	// proto 0: connect() says nothing of the socket's type (TCP, or a
	// connected UDP socket); user space reports it as a connect.
	return emit_dest(ctx->uservaddr, REC_CONNECT, 0);
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
	return emit_dest(ctx->addr, REC_UDP_SEND, 17);
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

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct openat_ctx *ctx)
{
	char head[PREFIX_LEN] = {};
	if (bpf_probe_read_user_str(head, sizeof(head), ctx->filename) <= 0)
		return 0;
	if (!sensitive(head))
		return 0;
	struct open_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	if (!fill_hdr(&r->h, REC_OPEN, sizeof(*r))) {
		bpf_ringbuf_discard(r, 0);
		return 0;
	}
	long n = bpf_probe_read_user_str(r->path, sizeof(r->path), ctx->filename);
	r->path_len = n > 0 ? n - 1 : 0;
	r->pad = 0;
	r->flags = (__u32)ctx->flags;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

struct sockstate_ctx {
	__u64 common;
	const void *skaddr;
	__s32 oldstate;
	__s32 newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
};

// An inbound accept is a TCP socket going from SYN_RECV to ESTABLISHED: only
// passive opens pass through SYN_RECV. An outbound connection that was
// answered goes from SYN_SENT to ESTABLISHED: unlike sys_enter_connect (an
// attempt), it proves the peer was reached, which is what judging a
// connection against NetworkPolicies needs. Both run in softirq context, so
// the current task is not the socket's: the record carries the socket's own
// cgroup (the listener's for an accept, the connecting task's for an
// outbound socket) and no process.
SEC("tracepoint/sock/inet_sock_set_state")
int on_sock_state(struct sockstate_ctx *ctx)
{
	if (ctx->protocol != 6 || ctx->newstate != TCP_ESTABLISHED)
		return 0;
	__u16 type;
	if (ctx->oldstate == TCP_SYN_RECV)
		type = REC_ACCEPT;
	else if (ctx->oldstate == TCP_SYN_SENT)
		type = REC_ESTABLISHED;
	else
		return 0;
	// The accepted socket inherits the listener's cgroup (sk_clone_lock
	// copies sk_cgrp_data): the listening container's, not the softirq's.
	const struct sock *sk = ctx->skaddr;
	__u64 cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	if (type == REC_ESTABLISHED) {
		__u64 skip = cfg(0);
		if (skip != 0 && cg == skip)
			return 0;
		// One established connection per cgroup and destination within
		// the connect window, as for connects.
		struct conn_key key = {};
		key.cgroup_id = cg;
		key.dport = ctx->dport;
		key.family = ctx->family;
		key.pad = type;
		if (ctx->family == AF_INET6)
			__builtin_memcpy(key.daddr, ctx->daddr_v6, 16);
		else
			__builtin_memcpy(key.daddr, ctx->daddr, 4);
		__u64 window = cfg(1);
		__u64 now = bpf_ktime_get_ns();
		if (window != 0) {
			__u64 *last = bpf_map_lookup_elem(&seen_conns, &key);
			if (last && now - *last < window)
				return 0;
			bpf_map_update_elem(&seen_conns, &key, &now, BPF_ANY);
		}
	}
	struct conn_rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop();
		return 0;
	}
	__builtin_memset(&r->h, 0, sizeof(r->h));
	r->h.version = REC_VERSION;
	r->h.type = type;
	r->h.size = sizeof(*r);
	r->h.ts_ns = bpf_ktime_get_ns();
	r->h.cgroup_id = cg;
	r->family = ctx->family;
	r->sport = ctx->sport;
	r->dport = ctx->dport;
	r->proto = 6;
	if (ctx->family == AF_INET6) {
		__builtin_memcpy(r->saddr, ctx->saddr_v6, 16);
		__builtin_memcpy(r->daddr, ctx->daddr_v6, 16);
	} else {
		__builtin_memset(r->saddr, 0, 16);
		__builtin_memset(r->daddr, 0, 16);
		__builtin_memcpy(r->saddr, ctx->saddr, 4);
		__builtin_memcpy(r->daddr, ctx->daddr, 4);
	}
	bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
