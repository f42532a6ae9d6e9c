package workload

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// decodeDirect decodes a workload kind's JSON with the direct decoder
// (direct.go). ok is false for other kinds and for anything the direct
// decoder leaves to unmarshalTyped.
func decodeDirect(data []byte, group, kind string) (typed any, ok bool) {
	return decodeDirectShared(data, group, kind, nil)
}

// decodeDirectShared is decodeDirect with the values that identical
// input decodes to shared through cache (directCache), which one
// decoding goroutine owns; a nil cache shares nothing.
func decodeDirectShared(data []byte, group, kind string, cache *directCache) (typed any, ok bool) {
	d := &direct{b: data, cache: cache}
	if d.peek() != '{' {
		// A top-level null decodes to the zero object in encoding/json,
		// and anything else that is not an object is an error: leave
		// both to unmarshalTyped.
		return nil, false
	}
	switch group + "/" + kind {
	case "/Pod":
		o := &corev1.Pod{}
		d.pod(o)
		typed = o
	case "apps/Deployment":
		o := &appsv1.Deployment{}
		d.deployment(o)
		typed = o
	case "apps/StatefulSet":
		o := &appsv1.StatefulSet{}
		d.statefulSet(o)
		typed = o
	case "apps/DaemonSet":
		o := &appsv1.DaemonSet{}
		d.daemonSet(o)
		typed = o
	case "apps/ReplicaSet":
		o := &appsv1.ReplicaSet{}
		d.replicaSet(o)
		typed = o
	case "batch/Job":
		o := &batchv1.Job{}
		d.job(o)
		typed = o
	case "batch/CronJob":
		o := &batchv1.CronJob{}
		d.cronJob(o)
		typed = o
	default:
		return nil, false
	}
	if !d.end() {
		return nil, false
	}
	return typed, true
}

// The JSON names of each struct decoded here, for direct.other.
var (
	podNames           = fieldNames[corev1.Pod]()
	deploymentNames    = fieldNames[appsv1.Deployment]()
	statefulSetNames   = fieldNames[appsv1.StatefulSet]()
	daemonSetNames     = fieldNames[appsv1.DaemonSet]()
	replicaSetNames    = fieldNames[appsv1.ReplicaSet]()
	jobNames           = fieldNames[batchv1.Job]()
	cronJobNames       = fieldNames[batchv1.CronJob]()
	objectMetaNames    = fieldNames[metav1.ObjectMeta]()
	ownerRefNames      = fieldNames[metav1.OwnerReference]()
	selectorNames      = fieldNames[metav1.LabelSelector]()
	requirementNames   = fieldNames[metav1.LabelSelectorRequirement]()
	templateNames      = fieldNames[corev1.PodTemplateSpec]()
	jobTemplateNames   = fieldNames[batchv1.JobTemplateSpec]()
	deploySpecNames    = fieldNames[appsv1.DeploymentSpec]()
	strategyNames      = fieldNames[appsv1.DeploymentStrategy]()
	rollingNames       = fieldNames[appsv1.RollingUpdateDeployment]()
	stsSpecNames       = fieldNames[appsv1.StatefulSetSpec]()
	dsSpecNames        = fieldNames[appsv1.DaemonSetSpec]()
	rsSpecNames        = fieldNames[appsv1.ReplicaSetSpec]()
	jobSpecNames       = fieldNames[batchv1.JobSpec]()
	cronSpecNames      = fieldNames[batchv1.CronJobSpec]()
	podSpecNames       = fieldNames[corev1.PodSpec]()
	containerNames     = fieldNames[corev1.Container]()
	portNames          = fieldNames[corev1.ContainerPort]()
	envNames           = fieldNames[corev1.EnvVar]()
	envSourceNames     = fieldNames[corev1.EnvVarSource]()
	keySelectorNames   = fieldNames[corev1.ConfigMapKeySelector]()
	fieldSelectorNames = fieldNames[corev1.ObjectFieldSelector]()
	envFromNames       = fieldNames[corev1.EnvFromSource]()
	envFromRefNames    = fieldNames[corev1.ConfigMapEnvSource]()
	resourcesNames     = fieldNames[corev1.ResourceRequirements]()
	mountNames         = fieldNames[corev1.VolumeMount]()
	probeNames         = fieldNames[corev1.Probe]()
	httpGetNames       = fieldNames[corev1.HTTPGetAction]()
	tcpNames           = fieldNames[corev1.TCPSocketAction]()
	execNames          = fieldNames[corev1.ExecAction]()
	grpcNames          = fieldNames[corev1.GRPCAction]()
	secCtxNames        = fieldNames[corev1.SecurityContext]()
	podSecCtxNames     = fieldNames[corev1.PodSecurityContext]()
	capsNames          = fieldNames[corev1.Capabilities]()
	profileNames       = fieldNames[corev1.SeccompProfile]()
	seLinuxNames       = fieldNames[corev1.SELinuxOptions]()
	sysctlNames        = fieldNames[corev1.Sysctl]()
	volumeNames        = fieldNames[corev1.Volume]()
	emptyDirNames      = fieldNames[corev1.EmptyDirVolumeSource]()
	hostPathNames      = fieldNames[corev1.HostPathVolumeSource]()
	configMapVolNames  = fieldNames[corev1.ConfigMapVolumeSource]()
	secretVolNames     = fieldNames[corev1.SecretVolumeSource]()
	keyToPathNames     = fieldNames[corev1.KeyToPath]()
	pvcNames           = fieldNames[corev1.PersistentVolumeClaimVolumeSource]()
	tolerationNames    = fieldNames[corev1.Toleration]()
	localRefNames      = fieldNames[corev1.LocalObjectReference]()
)

// typeMeta decodes the names every kind shares at its top level:
// apiVersion, kind, and a status that is empty (as kubectl writes it).
func (d *direct) typeMeta(k []byte, t *metav1.TypeMeta, names nameSet) {
	switch string(k) {
	case "status":
		d.emptyObject()
	case "apiVersion":
		t.APIVersion = d.str()
	case "kind":
		t.Kind = d.str()
	default:
		d.other(k, names)
	}
}

// kind decodes a kind's top level: metadata, the spec (with spec), and
// typeMeta's names.
func (d *direct) kind(meta *metav1.ObjectMeta, tm *metav1.TypeMeta, names nameSet, spec func()) {
	for k := range d.object {
		switch string(k) {
		case "metadata":
			d.objectMeta(meta)
		case "spec":
			spec()
		default:
			d.typeMeta(k, tm, names)
		}
	}
}

// controllerSpec points at the fields the controllers' specs share; nil
// for one a kind does not have.
type controllerSpec struct {
	replicas, history **int32
	selector          **metav1.LabelSelector
	template          *corev1.PodTemplateSpec
	minReady          *int32
}

// controllerField decodes k if it is one of c's fields, and reports
// whether it was.
func (d *direct) controllerField(k []byte, c controllerSpec) bool {
	switch string(k) {
	case "replicas":
		if c.replicas == nil {
			return false
		}
		*c.replicas = d.i32p()
	case "revisionHistoryLimit":
		if c.history == nil {
			return false
		}
		*c.history = d.i32p()
	case "selector":
		*c.selector = d.selector()
	case "template":
		d.template(c.template)
	case "minReadySeconds":
		*c.minReady = d.i32()
	default:
		return false
	}
	return true
}

func (d *direct) pod(o *corev1.Pod) {
	d.kind(&o.ObjectMeta, &o.TypeMeta, podNames, func() { d.podSpec(&o.Spec) })
}

func (d *direct) deployment(o *appsv1.Deployment) {
	s := &o.Spec
	c := controllerSpec{&s.Replicas, &s.RevisionHistoryLimit, &s.Selector, &s.Template, &s.MinReadySeconds}
	d.kind(&o.ObjectMeta, &o.TypeMeta, deploymentNames, func() {
		for k := range d.object {
			if d.controllerField(k, c) {
				continue
			}
			switch string(k) {
			case "strategy":
				d.strategy(&s.Strategy)
			case "paused":
				s.Paused = d.boolean()
			case "progressDeadlineSeconds":
				s.ProgressDeadlineSeconds = d.i32p()
			default:
				d.other(k, deploySpecNames)
			}
		}
	})
}

func (d *direct) strategy(s *appsv1.DeploymentStrategy) {
	for k := range d.object {
		switch string(k) {
		case "type":
			s.Type = appsv1.DeploymentStrategyType(d.str())
		case "rollingUpdate":
			if d.null() {
				s.RollingUpdate = nil
				continue
			}
			r := &appsv1.RollingUpdateDeployment{}
			for k := range d.object {
				switch string(k) {
				case "maxUnavailable":
					r.MaxUnavailable = d.intOrStringp()
				case "maxSurge":
					r.MaxSurge = d.intOrStringp()
				default:
					d.other(k, rollingNames)
				}
			}
			s.RollingUpdate = r
		default:
			d.other(k, strategyNames)
		}
	}
}

func (d *direct) statefulSet(o *appsv1.StatefulSet) {
	s := &o.Spec
	c := controllerSpec{&s.Replicas, &s.RevisionHistoryLimit, &s.Selector, &s.Template, &s.MinReadySeconds}
	d.kind(&o.ObjectMeta, &o.TypeMeta, statefulSetNames, func() {
		for k := range d.object {
			if d.controllerField(k, c) {
				continue
			}
			switch string(k) {
			case "serviceName":
				s.ServiceName = d.str()
			case "podManagementPolicy":
				s.PodManagementPolicy = appsv1.PodManagementPolicyType(d.str())
			default:
				d.other(k, stsSpecNames)
			}
		}
	})
}

func (d *direct) daemonSet(o *appsv1.DaemonSet) {
	s := &o.Spec
	c := controllerSpec{nil, &s.RevisionHistoryLimit, &s.Selector, &s.Template, &s.MinReadySeconds}
	d.kind(&o.ObjectMeta, &o.TypeMeta, daemonSetNames, func() {
		for k := range d.object {
			if !d.controllerField(k, c) {
				d.other(k, dsSpecNames)
			}
		}
	})
}

func (d *direct) replicaSet(o *appsv1.ReplicaSet) {
	s := &o.Spec
	c := controllerSpec{&s.Replicas, nil, &s.Selector, &s.Template, &s.MinReadySeconds}
	d.kind(&o.ObjectMeta, &o.TypeMeta, replicaSetNames, func() {
		for k := range d.object {
			if !d.controllerField(k, c) {
				d.other(k, rsSpecNames)
			}
		}
	})
}

func (d *direct) job(o *batchv1.Job) {
	d.kind(&o.ObjectMeta, &o.TypeMeta, jobNames, func() { d.jobSpec(&o.Spec) })
}

func (d *direct) jobSpec(s *batchv1.JobSpec) {
	for k := range d.object {
		switch string(k) {
		case "parallelism":
			s.Parallelism = d.i32p()
		case "completions":
			s.Completions = d.i32p()
		case "activeDeadlineSeconds":
			s.ActiveDeadlineSeconds = d.i64p()
		case "backoffLimit":
			s.BackoffLimit = d.i32p()
		case "selector":
			s.Selector = d.selector()
		case "manualSelector":
			s.ManualSelector = d.boolp()
		case "template":
			d.template(&s.Template)
		case "ttlSecondsAfterFinished":
			s.TTLSecondsAfterFinished = d.i32p()
		case "completionMode":
			s.CompletionMode = strp[batchv1.CompletionMode](d)
		case "suspend":
			s.Suspend = d.boolp()
		default:
			d.other(k, jobSpecNames)
		}
	}
}

func (d *direct) cronJob(o *batchv1.CronJob) {
	s := &o.Spec
	d.kind(&o.ObjectMeta, &o.TypeMeta, cronJobNames, func() {
		for k := range d.object {
			switch string(k) {
			case "schedule":
				s.Schedule = d.str()
			case "timeZone":
				s.TimeZone = strp[string](d)
			case "startingDeadlineSeconds":
				s.StartingDeadlineSeconds = d.i64p()
			case "concurrencyPolicy":
				s.ConcurrencyPolicy = batchv1.ConcurrencyPolicy(d.str())
			case "suspend":
				s.Suspend = d.boolp()
			case "jobTemplate":
				for k := range d.object {
					switch string(k) {
					case "metadata":
						d.objectMeta(&s.JobTemplate.ObjectMeta)
					case "spec":
						d.jobSpec(&s.JobTemplate.Spec)
					default:
						d.other(k, jobTemplateNames)
					}
				}
			case "successfulJobsHistoryLimit":
				s.SuccessfulJobsHistoryLimit = d.i32p()
			case "failedJobsHistoryLimit":
				s.FailedJobsHistoryLimit = d.i32p()
			default:
				d.other(k, cronSpecNames)
			}
		}
	})
}

func (d *direct) objectMeta(m *metav1.ObjectMeta) {
	for k := range d.object {
		switch string(k) {
		case "name":
			m.Name = d.str()
		case "generateName":
			m.GenerateName = d.str()
		case "namespace":
			m.Namespace = d.str()
		case "uid":
			m.UID = types.UID(d.str())
		case "resourceVersion":
			m.ResourceVersion = d.str()
		case "generation":
			m.Generation = d.integer(64)
		case "creationTimestamp":
			if raw := d.raw(); !d.bad && m.CreationTimestamp.UnmarshalJSON(raw) != nil {
				d.fail()
			}
		case "labels":
			m.Labels = directStringMap[string, string](d)
		case "annotations":
			m.Annotations = directStringMap[string, string](d)
		case "finalizers":
			m.Finalizers = directStrings[string](d)
		case "ownerReferences":
			if d.null() {
				continue
			}
			refs := []metav1.OwnerReference{}
			for range d.array {
				refs = append(refs, metav1.OwnerReference{})
				r := &refs[len(refs)-1]
				for k := range d.object {
					switch string(k) {
					case "apiVersion":
						r.APIVersion = d.str()
					case "kind":
						r.Kind = d.str()
					case "name":
						r.Name = d.str()
					case "uid":
						r.UID = types.UID(d.str())
					case "controller":
						r.Controller = d.boolp()
					case "blockOwnerDeletion":
						r.BlockOwnerDeletion = d.boolp()
					default:
						d.other(k, ownerRefNames)
					}
				}
			}
			m.OwnerReferences = refs
		default:
			d.other(k, objectMetaNames)
		}
	}
}

func (d *direct) selector() *metav1.LabelSelector {
	if d.null() {
		return nil
	}
	s := &metav1.LabelSelector{}
	for k := range d.object {
		switch string(k) {
		case "matchLabels":
			s.MatchLabels = directStringMap[string, string](d)
		case "matchExpressions":
			if d.null() {
				continue
			}
			reqs := []metav1.LabelSelectorRequirement{}
			for range d.array {
				reqs = append(reqs, metav1.LabelSelectorRequirement{})
				r := &reqs[len(reqs)-1]
				for k := range d.object {
					switch string(k) {
					case "key":
						r.Key = d.str()
					case "operator":
						r.Operator = metav1.LabelSelectorOperator(d.str())
					case "values":
						r.Values = directStrings[string](d)
					default:
						d.other(k, requirementNames)
					}
				}
			}
			s.MatchExpressions = reqs
		default:
			d.other(k, selectorNames)
		}
	}
	return s
}

func (d *direct) template(t *corev1.PodTemplateSpec) {
	for k := range d.object {
		switch string(k) {
		case "metadata":
			d.objectMeta(&t.ObjectMeta)
		case "spec":
			d.podSpec(&t.Spec)
		default:
			d.other(k, templateNames)
		}
	}
}

func (d *direct) podSpec(s *corev1.PodSpec) {
	for k := range d.object {
		switch string(k) {
		case "volumes":
			s.Volumes = d.volumes()
		case "initContainers":
			s.InitContainers = d.containers()
		case "containers":
			s.Containers = d.containers()
		case "restartPolicy":
			s.RestartPolicy = corev1.RestartPolicy(d.str())
		case "terminationGracePeriodSeconds":
			s.TerminationGracePeriodSeconds = d.i64p()
		case "activeDeadlineSeconds":
			s.ActiveDeadlineSeconds = d.i64p()
		case "dnsPolicy":
			s.DNSPolicy = corev1.DNSPolicy(d.str())
		case "nodeSelector":
			s.NodeSelector = directStringMap[string, string](d)
		case "serviceAccountName":
			s.ServiceAccountName = d.str()
		case "serviceAccount":
			s.DeprecatedServiceAccount = d.str()
		case "automountServiceAccountToken":
			s.AutomountServiceAccountToken = d.boolp()
		case "nodeName":
			s.NodeName = d.str()
		case "hostNetwork":
			s.HostNetwork = d.boolean()
		case "hostPID":
			s.HostPID = d.boolean()
		case "hostIPC":
			s.HostIPC = d.boolean()
		case "shareProcessNamespace":
			s.ShareProcessNamespace = d.boolp()
		case "securityContext":
			s.SecurityContext = d.podSecurityContext()
		case "imagePullSecrets":
			if d.null() {
				continue
			}
			refs := []corev1.LocalObjectReference{}
			for range d.array {
				refs = append(refs, corev1.LocalObjectReference{})
				d.localRef(&refs[len(refs)-1], localRefNames)
			}
			s.ImagePullSecrets = refs
		case "hostname":
			s.Hostname = d.str()
		case "subdomain":
			s.Subdomain = d.str()
		case "schedulerName":
			s.SchedulerName = d.str()
		case "tolerations":
			s.Tolerations = d.tolerations()
		case "priorityClassName":
			s.PriorityClassName = d.str()
		case "priority":
			s.Priority = d.i32p()
		case "runtimeClassName":
			s.RuntimeClassName = strp[string](d)
		case "enableServiceLinks":
			s.EnableServiceLinks = d.boolp()
		case "preemptionPolicy":
			s.PreemptionPolicy = strp[corev1.PreemptionPolicy](d)
		case "setHostnameAsFQDN":
			s.SetHostnameAsFQDN = d.boolp()
		case "hostUsers":
			s.HostUsers = d.boolp()
		default:
			d.other(k, podSpecNames)
		}
	}
}

// localRef decodes {name} into a LocalObjectReference, or the embedded one
// of a selector whose other fields the caller handles.
func (d *direct) localRef(r *corev1.LocalObjectReference, names nameSet) {
	for k := range d.object {
		if string(k) == "name" {
			r.Name = d.str()
			continue
		}
		d.other(k, names)
	}
}

func (d *direct) tolerations() []corev1.Toleration {
	if d.null() {
		return nil
	}
	out := []corev1.Toleration{}
	for range d.array {
		out = append(out, corev1.Toleration{})
		t := &out[len(out)-1]
		for k := range d.object {
			switch string(k) {
			case "key":
				t.Key = d.str()
			case "operator":
				t.Operator = corev1.TolerationOperator(d.str())
			case "value":
				t.Value = d.str()
			case "effect":
				t.Effect = corev1.TaintEffect(d.str())
			case "tolerationSeconds":
				t.TolerationSeconds = d.i64p()
			default:
				d.other(k, tolerationNames)
			}
		}
	}
	return out
}

func (d *direct) containers() []corev1.Container {
	if d.null() {
		return nil
	}
	// Decoded into a small array first and copied once into a slice of
	// the exact length: growing the slice from empty left a discarded
	// copy of every container (about 20 MB of garbage a scan of the
	// 10,000-workload corpus).
	var small [4]corev1.Container
	buf := small[:0]
	for range d.array {
		buf = append(buf, corev1.Container{})
		d.container(&buf[len(buf)-1])
	}
	out := make([]corev1.Container, len(buf))
	copy(out, buf)
	return out
}

func (d *direct) container(c *corev1.Container) {
	for k := range d.object {
		switch string(k) {
		case "name":
			c.Name = d.str()
		case "image":
			c.Image = d.str()
		case "command":
			c.Command = directStrings[string](d)
		case "args":
			c.Args = directStrings[string](d)
		case "workingDir":
			c.WorkingDir = d.str()
		case "ports":
			c.Ports = d.ports()
		case "envFrom":
			c.EnvFrom = d.envFrom()
		case "env":
			c.Env = d.env()
		case "resources":
			d.resources(&c.Resources)
		case "volumeMounts":
			c.VolumeMounts = d.volumeMounts()
		case "livenessProbe":
			c.LivenessProbe = d.probe()
		case "readinessProbe":
			c.ReadinessProbe = d.probe()
		case "startupProbe":
			c.StartupProbe = d.probe()
		case "terminationMessagePath":
			c.TerminationMessagePath = d.str()
		case "terminationMessagePolicy":
			c.TerminationMessagePolicy = corev1.TerminationMessagePolicy(d.str())
		case "imagePullPolicy":
			c.ImagePullPolicy = corev1.PullPolicy(d.str())
		case "securityContext":
			c.SecurityContext = d.securityContext()
		case "stdin":
			c.Stdin = d.boolean()
		case "stdinOnce":
			c.StdinOnce = d.boolean()
		case "tty":
			c.TTY = d.boolean()
		case "restartPolicy":
			c.RestartPolicy = strp[corev1.ContainerRestartPolicy](d)
		default:
			d.other(k, containerNames)
		}
	}
}

func (d *direct) ports() []corev1.ContainerPort {
	if d.null() {
		return nil
	}
	out := []corev1.ContainerPort{}
	for range d.array {
		out = append(out, corev1.ContainerPort{})
		p := &out[len(out)-1]
		for k := range d.object {
			switch string(k) {
			case "name":
				p.Name = d.str()
			case "hostPort":
				p.HostPort = d.i32()
			case "containerPort":
				p.ContainerPort = d.i32()
			case "protocol":
				p.Protocol = corev1.Protocol(d.str())
			case "hostIP":
				p.HostIP = d.str()
			default:
				d.other(k, portNames)
			}
		}
	}
	return out
}

func (d *direct) env() []corev1.EnvVar {
	if d.null() {
		return nil
	}
	out := []corev1.EnvVar{}
	for range d.array {
		out = append(out, corev1.EnvVar{})
		e := &out[len(out)-1]
		for k := range d.object {
			switch string(k) {
			case "name":
				e.Name = d.str()
			case "value":
				e.Value = d.str()
			case "valueFrom":
				e.ValueFrom = d.envSource()
			default:
				d.other(k, envNames)
			}
		}
	}
	return out
}

func (d *direct) envSource() *corev1.EnvVarSource {
	if d.null() {
		return nil
	}
	s := &corev1.EnvVarSource{}
	for k := range d.object {
		switch string(k) {
		case "fieldRef":
			if d.null() {
				continue
			}
			f := &corev1.ObjectFieldSelector{}
			for k := range d.object {
				switch string(k) {
				case "apiVersion":
					f.APIVersion = d.str()
				case "fieldPath":
					f.FieldPath = d.str()
				default:
					d.other(k, fieldSelectorNames)
				}
			}
			s.FieldRef = f
		case "configMapKeyRef":
			if d.null() {
				continue
			}
			r := &corev1.ConfigMapKeySelector{}
			r.Key, r.Optional = d.keySelector(&r.LocalObjectReference)
			s.ConfigMapKeyRef = r
		case "secretKeyRef":
			if d.null() {
				continue
			}
			r := &corev1.SecretKeySelector{}
			r.Key, r.Optional = d.keySelector(&r.LocalObjectReference)
			s.SecretKeyRef = r
		default:
			d.other(k, envSourceNames)
		}
	}
	return s
}

// keySelector decodes {name, key, optional}, the shape of config map and
// secret key selectors.
func (d *direct) keySelector(ref *corev1.LocalObjectReference) (key string, optional *bool) {
	for k := range d.object {
		switch string(k) {
		case "name":
			ref.Name = d.str()
		case "key":
			key = d.str()
		case "optional":
			optional = d.boolp()
		default:
			d.other(k, keySelectorNames)
		}
	}
	return key, optional
}

func (d *direct) envFrom() []corev1.EnvFromSource {
	if d.null() {
		return nil
	}
	out := []corev1.EnvFromSource{}
	for range d.array {
		out = append(out, corev1.EnvFromSource{})
		e := &out[len(out)-1]
		for k := range d.object {
			switch string(k) {
			case "prefix":
				e.Prefix = d.str()
			case "configMapRef":
				if d.null() {
					continue
				}
				r := &corev1.ConfigMapEnvSource{}
				r.Optional = d.envFromRef(&r.LocalObjectReference)
				e.ConfigMapRef = r
			case "secretRef":
				if d.null() {
					continue
				}
				r := &corev1.SecretEnvSource{}
				r.Optional = d.envFromRef(&r.LocalObjectReference)
				e.SecretRef = r
			default:
				d.other(k, envFromNames)
			}
		}
	}
	return out
}

func (d *direct) envFromRef(ref *corev1.LocalObjectReference) (optional *bool) {
	for k := range d.object {
		switch string(k) {
		case "name":
			ref.Name = d.str()
		case "optional":
			optional = d.boolp()
		default:
			d.other(k, envFromRefNames)
		}
	}
	return optional
}

func (d *direct) resources(r *corev1.ResourceRequirements) {
	for k := range d.object {
		switch string(k) {
		case "limits":
			r.Limits = d.resourceList()
		case "requests":
			r.Requests = d.resourceList()
		default:
			d.other(k, resourcesNames)
		}
	}
}

func (d *direct) resourceList() corev1.ResourceList {
	if d.null() {
		return nil
	}
	if d.cache == nil {
		return d.resourceListFresh()
	}
	start := d.i
	raw := d.raw()
	if d.bad {
		return nil
	}
	if l, ok := d.cache.lists[string(raw)]; ok {
		return l
	}
	d.i = start
	l := d.resourceListFresh()
	if !d.bad {
		d.cache.keep(raw, l)
	}
	return l
}

// resourceListFresh decodes a resource list into a map of its own.
func (d *direct) resourceListFresh() corev1.ResourceList {
	out := corev1.ResourceList{}
	for k := range d.object {
		if d.peek() == 'n' {
			d.fail()
			return nil
		}
		q, ok := d.quantity()
		if !ok {
			return nil
		}
		out[corev1.ResourceName(k)] = q
	}
	return out
}

func (d *direct) quantity() (resource.Quantity, bool) {
	var q resource.Quantity
	raw := d.raw()
	if d.bad || q.UnmarshalJSON(raw) != nil {
		d.fail()
		return q, false
	}
	return q, true
}

func (d *direct) intOrString() intstr.IntOrString {
	var v intstr.IntOrString
	if raw := d.raw(); !d.bad && v.UnmarshalJSON(raw) != nil {
		d.fail()
	}
	return v
}

func (d *direct) intOrStringp() *intstr.IntOrString {
	if d.null() {
		return nil
	}
	v := d.intOrString()
	return &v
}

func (d *direct) volumeMounts() []corev1.VolumeMount {
	if d.null() {
		return nil
	}
	out := []corev1.VolumeMount{}
	for range d.array {
		out = append(out, corev1.VolumeMount{})
		m := &out[len(out)-1]
		for k := range d.object {
			switch string(k) {
			case "name":
				m.Name = d.str()
			case "readOnly":
				m.ReadOnly = d.boolean()
			case "mountPath":
				m.MountPath = d.str()
			case "subPath":
				m.SubPath = d.str()
			case "mountPropagation":
				m.MountPropagation = strp[corev1.MountPropagationMode](d)
			case "subPathExpr":
				m.SubPathExpr = d.str()
			default:
				d.other(k, mountNames)
			}
		}
	}
	return out
}

func (d *direct) probe() *corev1.Probe {
	if d.null() {
		return nil
	}
	p := &corev1.Probe{}
	for k := range d.object {
		switch string(k) {
		case "exec":
			if d.null() {
				continue
			}
			e := &corev1.ExecAction{}
			for k := range d.object {
				if string(k) == "command" {
					e.Command = directStrings[string](d)
					continue
				}
				d.other(k, execNames)
			}
			p.Exec = e
		case "httpGet":
			if d.null() {
				continue
			}
			h := &corev1.HTTPGetAction{}
			for k := range d.object {
				switch string(k) {
				case "path":
					h.Path = d.str()
				case "port":
					h.Port = d.intOrString()
				case "host":
					h.Host = d.str()
				case "scheme":
					h.Scheme = corev1.URIScheme(d.str())
				default:
					d.other(k, httpGetNames)
				}
			}
			p.HTTPGet = h
		case "tcpSocket":
			if d.null() {
				continue
			}
			t := &corev1.TCPSocketAction{}
			for k := range d.object {
				switch string(k) {
				case "port":
					t.Port = d.intOrString()
				case "host":
					t.Host = d.str()
				default:
					d.other(k, tcpNames)
				}
			}
			p.TCPSocket = t
		case "grpc":
			if d.null() {
				continue
			}
			g := &corev1.GRPCAction{}
			for k := range d.object {
				switch string(k) {
				case "port":
					g.Port = d.i32()
				case "service":
					g.Service = strp[string](d)
				default:
					d.other(k, grpcNames)
				}
			}
			p.GRPC = g
		case "initialDelaySeconds":
			p.InitialDelaySeconds = d.i32()
		case "timeoutSeconds":
			p.TimeoutSeconds = d.i32()
		case "periodSeconds":
			p.PeriodSeconds = d.i32()
		case "successThreshold":
			p.SuccessThreshold = d.i32()
		case "failureThreshold":
			p.FailureThreshold = d.i32()
		case "terminationGracePeriodSeconds":
			p.TerminationGracePeriodSeconds = d.i64p()
		default:
			d.other(k, probeNames)
		}
	}
	return p
}

func (d *direct) securityContext() *corev1.SecurityContext {
	if d.null() {
		return nil
	}
	s := &corev1.SecurityContext{}
	for k := range d.object {
		switch string(k) {
		case "capabilities":
			if d.null() {
				continue
			}
			c := &corev1.Capabilities{}
			for k := range d.object {
				switch string(k) {
				case "add":
					c.Add = directStrings[corev1.Capability](d)
				case "drop":
					c.Drop = directStrings[corev1.Capability](d)
				default:
					d.other(k, capsNames)
				}
			}
			s.Capabilities = c
		case "privileged":
			s.Privileged = d.boolp()
		case "seLinuxOptions":
			s.SELinuxOptions = d.seLinux()
		case "runAsUser":
			s.RunAsUser = d.i64p()
		case "runAsGroup":
			s.RunAsGroup = d.i64p()
		case "runAsNonRoot":
			s.RunAsNonRoot = d.boolp()
		case "readOnlyRootFilesystem":
			s.ReadOnlyRootFilesystem = d.boolp()
		case "allowPrivilegeEscalation":
			s.AllowPrivilegeEscalation = d.boolp()
		case "procMount":
			s.ProcMount = strp[corev1.ProcMountType](d)
		case "seccompProfile":
			if d.null() {
				continue
			}
			p := &corev1.SeccompProfile{}
			p.Type, p.LocalhostProfile = profile[corev1.SeccompProfileType](d)
			s.SeccompProfile = p
		case "appArmorProfile":
			if d.null() {
				continue
			}
			p := &corev1.AppArmorProfile{}
			p.Type, p.LocalhostProfile = profile[corev1.AppArmorProfileType](d)
			s.AppArmorProfile = p
		default:
			d.other(k, secCtxNames)
		}
	}
	return s
}

// profile decodes {type, localhostProfile}, the shape of seccomp and
// AppArmor profiles (the same field names in both).
func profile[T ~string](d *direct) (typ T, localhost *string) {
	for k := range d.object {
		switch string(k) {
		case "type":
			typ = T(d.str())
		case "localhostProfile":
			localhost = strp[string](d)
		default:
			d.other(k, profileNames)
		}
	}
	return typ, localhost
}

func (d *direct) seLinux() *corev1.SELinuxOptions {
	if d.null() {
		return nil
	}
	o := &corev1.SELinuxOptions{}
	for k := range d.object {
		switch string(k) {
		case "user":
			o.User = d.str()
		case "role":
			o.Role = d.str()
		case "type":
			o.Type = d.str()
		case "level":
			o.Level = d.str()
		default:
			d.other(k, seLinuxNames)
		}
	}
	return o
}

func (d *direct) podSecurityContext() *corev1.PodSecurityContext {
	if d.null() {
		return nil
	}
	s := &corev1.PodSecurityContext{}
	for k := range d.object {
		switch string(k) {
		case "seLinuxOptions":
			s.SELinuxOptions = d.seLinux()
		case "runAsUser":
			s.RunAsUser = d.i64p()
		case "runAsGroup":
			s.RunAsGroup = d.i64p()
		case "runAsNonRoot":
			s.RunAsNonRoot = d.boolp()
		case "supplementalGroups":
			if d.null() {
				continue
			}
			gs := []int64{}
			for range d.array {
				gs = append(gs, d.integer(64))
			}
			s.SupplementalGroups = gs
		case "fsGroup":
			s.FSGroup = d.i64p()
		case "sysctls":
			if d.null() {
				continue
			}
			out := []corev1.Sysctl{}
			for range d.array {
				out = append(out, corev1.Sysctl{})
				c := &out[len(out)-1]
				for k := range d.object {
					switch string(k) {
					case "name":
						c.Name = d.str()
					case "value":
						c.Value = d.str()
					default:
						d.other(k, sysctlNames)
					}
				}
			}
			s.Sysctls = out
		case "fsGroupChangePolicy":
			s.FSGroupChangePolicy = strp[corev1.PodFSGroupChangePolicy](d)
		case "seccompProfile":
			if d.null() {
				continue
			}
			p := &corev1.SeccompProfile{}
			p.Type, p.LocalhostProfile = profile[corev1.SeccompProfileType](d)
			s.SeccompProfile = p
		case "appArmorProfile":
			if d.null() {
				continue
			}
			p := &corev1.AppArmorProfile{}
			p.Type, p.LocalhostProfile = profile[corev1.AppArmorProfileType](d)
			s.AppArmorProfile = p
		default:
			d.other(k, podSecCtxNames)
		}
	}
	return s
}

func (d *direct) volumes() []corev1.Volume {
	if d.null() {
		return nil
	}
	out := []corev1.Volume{}
	for range d.array {
		out = append(out, corev1.Volume{})
		v := &out[len(out)-1]
		for k := range d.object {
			switch string(k) {
			case "name":
				v.Name = d.str()
			case "emptyDir":
				if d.null() {
					continue
				}
				e := &corev1.EmptyDirVolumeSource{}
				for k := range d.object {
					switch string(k) {
					case "medium":
						e.Medium = corev1.StorageMedium(d.str())
					case "sizeLimit":
						if d.null() {
							continue
						}
						q, ok := d.quantity()
						if ok {
							e.SizeLimit = &q
						}
					default:
						d.other(k, emptyDirNames)
					}
				}
				v.EmptyDir = e
			case "hostPath":
				if d.null() {
					continue
				}
				h := &corev1.HostPathVolumeSource{}
				for k := range d.object {
					switch string(k) {
					case "path":
						h.Path = d.str()
					case "type":
						h.Type = strp[corev1.HostPathType](d)
					default:
						d.other(k, hostPathNames)
					}
				}
				v.HostPath = h
			case "configMap":
				if d.null() {
					continue
				}
				c := &corev1.ConfigMapVolumeSource{}
				for k := range d.object {
					switch string(k) {
					case "name":
						c.Name = d.str()
					case "items":
						c.Items = d.keyToPaths()
					case "defaultMode":
						c.DefaultMode = d.i32p()
					case "optional":
						c.Optional = d.boolp()
					default:
						d.other(k, configMapVolNames)
					}
				}
				v.ConfigMap = c
			case "secret":
				if d.null() {
					continue
				}
				s := &corev1.SecretVolumeSource{}
				for k := range d.object {
					switch string(k) {
					case "secretName":
						s.SecretName = d.str()
					case "items":
						s.Items = d.keyToPaths()
					case "defaultMode":
						s.DefaultMode = d.i32p()
					case "optional":
						s.Optional = d.boolp()
					default:
						d.other(k, secretVolNames)
					}
				}
				v.Secret = s
			case "persistentVolumeClaim":
				if d.null() {
					continue
				}
				p := &corev1.PersistentVolumeClaimVolumeSource{}
				for k := range d.object {
					switch string(k) {
					case "claimName":
						p.ClaimName = d.str()
					case "readOnly":
						p.ReadOnly = d.boolean()
					default:
						d.other(k, pvcNames)
					}
				}
				v.PersistentVolumeClaim = p
			default:
				d.other(k, volumeNames)
			}
		}
	}
	return out
}

func (d *direct) keyToPaths() []corev1.KeyToPath {
	if d.null() {
		return nil
	}
	out := []corev1.KeyToPath{}
	for range d.array {
		out = append(out, corev1.KeyToPath{})
		p := &out[len(out)-1]
		for k := range d.object {
			switch string(k) {
			case "key":
				p.Key = d.str()
			case "path":
				p.Path = d.str()
			case "mode":
				p.Mode = d.i32p()
			default:
				d.other(k, keyToPathNames)
			}
		}
	}
	return out
}
