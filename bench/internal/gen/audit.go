package gen

import (
	"fmt"
	"io"
	"math/rand"
	"time"
)

// WriteAuditLog writes about size bytes of audit events. 1 in 50 events is
// risky (secret read by a user, exec, privileged pod, forbidden probe).
func WriteAuditLog(w io.Writer, size int64, seed int64) error {
	r := rand.New(rand.NewSource(seed))
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var written int64
	for i := 0; written < size; i++ {
		ts := start.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000000Z")
		var line string
		switch k := r.Intn(50); {
		case k == 0:
			line = fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns-%d/secrets/db","verb":"get","user":{"username":"user-%d@example.com","groups":["system:authenticated"]},"sourceIPs":["10.0.0.%d"],"userAgent":"kubectl/v1.37.2","objectRef":{"resource":"secrets","namespace":"ns-%d","name":"db","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"%s","stageTimestamp":"%s"}`,
				i, i%50, i%20, i%250, i%50, ts, ts)
		case k == 1:
			line = fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns-%d/pods/web-%d/exec?command=sh","verb":"create","user":{"username":"user-%d@example.com","groups":["system:authenticated"]},"sourceIPs":["10.0.0.%d"],"userAgent":"kubectl/v1.37.2","objectRef":{"resource":"pods","namespace":"ns-%d","name":"web-%d","apiVersion":"v1","subresource":"exec"},"responseStatus":{"metadata":{},"code":101},"requestReceivedTimestamp":"%s","stageTimestamp":"%s"}`,
				i, i%50, i%7, i%20, i%250, i%50, i%7, ts, ts)
		case k == 2:
			line = fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a-%d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns-%d/pods","verb":"create","user":{"username":"ci@example.com","groups":["system:authenticated"]},"sourceIPs":["10.0.1.1"],"userAgent":"helm/3","objectRef":{"resource":"pods","namespace":"ns-%d","name":"job-%d","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"job-%d"},"spec":{"containers":[{"name":"a","image":"busybox:1.36","securityContext":{"privileged":%t}}]}},"requestReceivedTimestamp":"%s","stageTimestamp":"%s"}`,
				i, i%50, i%50, i, i, r.Intn(4) == 0, ts, ts)
		case k == 3:
			line = fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%d","stage":"ResponseComplete","requestURI":"/api/v1/secrets","verb":"list","user":{"username":"probe-%d","groups":["system:authenticated"]},"sourceIPs":["203.0.113.%d"],"userAgent":"curl/8","objectRef":{"resource":"secrets","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Failure","reason":"Forbidden","code":403},"requestReceivedTimestamp":"%s","stageTimestamp":"%s"}`,
				i, i%3, i%250, ts, ts)
		default:
			line = fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns-%d/pods?limit=500","verb":"list","user":{"username":"system:serviceaccount:monitoring:prometheus","uid":"u-1","groups":["system:serviceaccounts","system:serviceaccounts:monitoring","system:authenticated"]},"sourceIPs":["10.42.0.%d"],"userAgent":"prometheus/3.0","objectRef":{"resource":"pods","namespace":"ns-%d","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"%s","stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"prometheus\""}}`,
				i, i%50, i%250, i%50, ts, ts)
		}
		n, err := io.WriteString(w, line+"\n")
		if err != nil {
			return err
		}
		written += int64(n)
	}
	return nil
}
