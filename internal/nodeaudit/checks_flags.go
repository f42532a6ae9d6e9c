package nodeaudit

import (
	"fmt"
)

// Builders for checks over one component's flags.

// flagBool requires a boolean flag to be want; def is the component's
// default when the flag is absent. Values are read as the component reads
// them (strconv.ParseBool), so --profiling=0 is false and --profiling=yes
// a value the component refuses.
func flagBool(comp ComponentName, flag string, want, def bool) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, set, err := c.Flags.Bool(flag)
		switch {
		case err != nil:
			return []Result{failFlag(c, flag, "%v: the component refuses to start with it", err)}
		case !set && def != want:
			return []Result{failFlag(c, flag, "--%s is not set; it defaults to %t, want %t", flag, def, want)}
		case set && v != want:
			raw, _ := c.Flags.Get(flag)
			return []Result{failFlag(c, flag, "--%s=%s, want %t", flag, raw, want)}
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
		if val, ok := FeatureGates(v)[gate]; ok && sameValue(val, "false") {
			return []Result{failFlag(c, "feature-gates", "--feature-gates switches %s off", gate)}
		}
		return nil
	}
}

// bindLoopback requires an address flag to be a loopback address; the
// components default to all interfaces.
func bindLoopback(comp ComponentName, flag string) func(n *Node) []Result {
	return func(n *Node) []Result {
		c := n.Component(comp)
		v, ok := c.Flags.Get(flag)
		if !ok {
			return []Result{failFlag(c, flag, "--%s is not set: the secure port listens on all interfaces", flag)}
		}
		if !loopbackHostPort(v) {
			return []Result{failFlag(c, flag, "--%s=%s exposes the component's port beyond the host", flag, v)}
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
