package runtime

// The BPF object is built with Debian's clang and committed; hack/ebpf/check.sh
// regenerates it and fails when the committed files differ.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go@v0.22.0 -cc clang -target bpfel sensor bpf/sensor.c -- -O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu
