// Package testenv runs a real control plane — etcd plus kube-apiserver, no
// kubelet, no controller-manager — on 127.0.0.1 for integration tests, in the
// spirit of controller-runtime's envtest.
//
// The binaries are built from source by hack/kube/build.sh into a cache
// directory (see [BinDir]). When they are missing, tests are skipped with a
// message saying how to build them, unless PALISADE_REQUIRE_CONTROL_PLANE=1 is
// set (CI sets it), in which case they fail: a missing build must never turn
// a CI run green by skipping everything.
//
// Typical use:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		env := testenv.Shared(t)             // one instance per test binary
//		ns := env.CreateNamespace(ctx, t, "", nil)
//		client := env.AdminClient(t)
//		...
//	}
//
//	func TestEncryption(t *testing.T) {
//		env := testenv.Start(t, testenv.Options{Encryption: ...}) // dedicated, stopped at cleanup
//	}
//
// What the control plane is like:
//   - authentication: client certificates signed by a per-instance CA (the
//     admin is in system:masters), a static token file, and service-account
//     tokens signed by a per-instance key pair (TokenRequest works);
//   - authorization: Node,RBAC;
//   - the ServiceAccount admission plugin is disabled because no
//     controller-manager creates the "default" service accounts, so Pods can
//     be created (they stay Pending: there is no scheduler or kubelet);
//   - namespaces are never finalized (no namespace controller): deleting one
//     leaves it Terminating, so tests use unique names ([Env.CreateNamespace]
//     generates them);
//   - etcd listens on plain HTTP on loopback; its data lives on /dev/shm when
//     available.
//
// Child processes are placed in their own process group with a parent-death
// signal (Linux), so they die with the test binary even when it is killed;
// instance directories left behind by a killed binary are removed by the next
// run.
package testenv
