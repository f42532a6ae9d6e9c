package auditlog

// RecommendedPolicy is the audit policy 'palisade auditlog policy' prints.
// It logs what the detections need and never the bodies of Secrets,
// ConfigMaps or token requests (Metadata level), skips the noisiest
// read-only traffic, and omits the RequestReceived stage, which would
// double every event.
const RecommendedPolicy = `# Audit policy recommended by Palisade: use with
#   kube-apiserver --audit-policy-file=/etc/kubernetes/audit-policy.yaml
#                  --audit-log-path=/var/log/kubernetes/audit.log
#                  --audit-log-maxage=30 --audit-log-maxbackup=10 --audit-log-maxsize=100
# (K3s: kube-apiserver-arg in /etc/rancher/k3s/config.yaml; MicroK8s:
# /var/snap/microk8s/current/args/kube-apiserver).
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
- RequestReceived
rules:
# Health checks and the API server's own discovery traffic are noise.
- level: None
  nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics", "/openapi*"]
- level: None
  users: ["system:kube-proxy"]
  verbs: ["watch"]
- level: None
  resources:
  - group: ""
    resources: ["events"]
  verbs: ["get", "list", "watch"]
- level: None
  resources:
  - group: "coordination.k8s.io"
    resources: ["leases"]
# Secrets, ConfigMaps and tokens: who and when, never the content.
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "serviceaccounts/token"]
  - group: "authentication.k8s.io"
    resources: ["tokenreviews"]
# ConfigMap writes at Request level so credentials written into them are
# detected; reads at Metadata.
- level: Request
  resources:
  - group: ""
    resources: ["configmaps"]
  verbs: ["create", "update", "patch"]
- level: Metadata
  resources:
  - group: ""
    resources: ["configmaps"]
# Interactive access to pods and nodes.
- level: Metadata
  resources:
  - group: ""
    resources: ["pods/exec", "pods/attach", "pods/portforward", "pods/ephemeralcontainers", "nodes/proxy"]
# Writes of workloads, services, RBAC and admission configuration with
# their request bodies, so privileged pods and cluster-admin grants show.
- level: Request
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
  resources:
  - group: ""
    resources: ["pods", "replicationcontrollers", "services", "serviceaccounts", "namespaces"]
  - group: "apps"
  - group: "batch"
  - group: "rbac.authorization.k8s.io"
  - group: "admissionregistration.k8s.io"
  - group: "certificates.k8s.io"
  - group: "networking.k8s.io"
# Everything else: metadata only.
- level: Metadata
`
