package nodeaudit

import (
	"fmt"
	"strings"
)

// Builders for checks over one component's flags.

// flagIs requires flag to equal want; def is the component's default when
// the flag is absent.
func flagIs(comp ComponentName, flag, want, def string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, ok := c.Flags.Get(flag)
		switch {
		case !ok && def == want:
			return nil
		case !ok:
			return []Result{failFlag(c, flag, "--%s is not set; it defaults to %s, want %s", flag, def, want)}
		case !strings.EqualFold(v, want):
			return []Result{failFlag(c, flag, "--%s=%s, want %s", flag, v, want)}
		}
		return nil
	}
}

// flagNot forbids one value; def is the default when absent.
func flagNot(comp ComponentName, flag, bad, def string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, ok := c.Flags.Get(flag)
		if !ok {
			v = def
		}
		if strings.EqualFold(v, bad) {
			if !ok {
				return []Result{failFlag(c, flag, "--%s is not set and defaults to %s", flag, def)}
			}
			return []Result{failFlag(c, flag, "--%s=%s", flag, v)}
		}
		return nil
	}
}

// flagsSet requires every flag to be set to a non-empty value.
func flagsSet(comp ComponentName, flags ...string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		var out []Result
		for _, f := range flags {
			if v, ok := c.Flags.Get(f); !ok || v == "" {
				out = append(out, failFlag(c, f, "--%s is not set", f))
			}
		}
		return out
	}
}

// flagUnset forbids a flag.
func flagUnset(comp ComponentName, flag, why string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		if v, ok := c.Flags.Get(flag); ok {
			return []Result{failFlag(c, flag, "--%s=%s is set: %s", flag, v, why)}
		}
		return nil
	}
}

// featureGateNotFalse requires a feature gate not to be switched off.
func featureGateNotFalse(comp ComponentName, gate string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, _ := c.Flags.Get("feature-gates")
		for _, g := range listValue(v) {
			name, val, _ := strings.Cut(g, "=")
			if strings.TrimSpace(name) == gate && strings.EqualFold(strings.TrimSpace(val), "false") {
				return []Result{failFlag(c, "feature-gates", "--feature-gates switches %s off", gate)}
			}
		}
		return nil
	}
}

// bindLoopback requires --bind-address to be a loopback address; the
// components default to all interfaces.
func bindLoopback(comp ComponentName) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, ok := c.Flags.Get("bind-address")
		if !ok {
			return []Result{failFlag(c, "bind-address", "--bind-address is not set: the secure port listens on all interfaces")}
		}
		if v != "127.0.0.1" && v != "::1" && v != "localhost" {
			return []Result{failFlag(c, "bind-address", "--bind-address=%s exposes the component's port beyond the host", v)}
		}
		return nil
	}
}

// all combines check functions.
func all(fns ...func(n *Node) []Result) func(n *Node) []Result {
	return func(n *Node) []Result {
		var out []Result
		for _, f := range fns {
			out = append(out, f(n)...)
		}
		return out
	}
}

// minInt requires an integer flag of at least min.
func minInt(comp ComponentName, flag string, min int) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, ok := c.Flags.Get(flag)
		if !ok {
			return []Result{failFlag(c, flag, "--%s is not set, want at least %d", flag, min)}
		}
		var got int
		if _, err := fmt.Sscan(v, &got); err != nil || got < min {
			return []Result{failFlag(c, flag, "--%s=%s, want at least %d", flag, v, min)}
		}
		return nil
	}
}
