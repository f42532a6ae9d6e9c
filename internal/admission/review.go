package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
)

// MaxReviewBytes bounds an AdmissionReview body. The API server's own
// request limit is 3 MiB, so a larger review is not one it sent.
const MaxReviewBytes = 3 << 20

// Review API version and kind Palisade answers.
const (
	reviewAPIVersion = "admission.k8s.io/v1"
	reviewKind       = "AdmissionReview"
)

// ErrBadReview marks input that is not a v1 AdmissionReview request; the
// server answers it with 400.
var ErrBadReview = errors.New("bad AdmissionReview")

// DecodeReview reads one AdmissionReview request of at most
// MaxReviewBytes. Every error wraps ErrBadReview.
func DecodeReview(r io.Reader) (*admissionv1.AdmissionReview, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReviewBytes+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || len(data) > MaxReviewBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrBadReview, MaxReviewBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %v", ErrBadReview, err)
	}
	if len(data) > MaxReviewBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrBadReview, MaxReviewBytes)
	}
	return DecodeReviewBytes(data)
}

// DecodeReviewBytes decodes a review already read.
func DecodeReviewBytes(data []byte) (*admissionv1.AdmissionReview, error) {
	var ar admissionv1.AdmissionReview
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&ar); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReview, err)
	}
	// dec.More reports false before a stray "]" or "}", so look at the
	// bytes themselves: only white space may follow the review.
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("%w: data after the review", ErrBadReview)
	}
	if ar.APIVersion != reviewAPIVersion || ar.Kind != reviewKind {
		return nil, fmt.Errorf("%w: apiVersion %q kind %q, want %s %s", ErrBadReview, ar.APIVersion, ar.Kind, reviewAPIVersion, reviewKind)
	}
	if ar.Request == nil {
		return nil, fmt.Errorf("%w: no request", ErrBadReview)
	}
	if ar.Request.UID == "" {
		return nil, fmt.Errorf("%w: request has no uid", ErrBadReview)
	}
	if ar.Response != nil {
		return nil, fmt.Errorf("%w: request %s already has a response", ErrBadReview, ar.Request.UID)
	}
	return &ar, nil
}

// decodeObject decodes the request's object into its typed form for the
// workload kinds. It returns nil (and no error) for other kinds.
func decodeObject(req *admissionv1.AdmissionRequest) (any, finding.ObjectRef, error) {
	gvk := req.Kind
	apiVersion := gvk.Version
	if gvk.Group != "" {
		apiVersion = gvk.Group + "/" + gvk.Version
	}
	ref := finding.ObjectRef{APIVersion: apiVersion, Kind: gvk.Kind, Namespace: req.Namespace, Name: req.Name}
	var typed any
	switch apiVersion + "/" + gvk.Kind {
	case "v1/Pod":
		typed = &corev1.Pod{}
	case "v1/ReplicationController":
		typed = &corev1.ReplicationController{}
	case "apps/v1/Deployment":
		typed = &appsv1.Deployment{}
	case "apps/v1/StatefulSet":
		typed = &appsv1.StatefulSet{}
	case "apps/v1/DaemonSet":
		typed = &appsv1.DaemonSet{}
	case "apps/v1/ReplicaSet":
		typed = &appsv1.ReplicaSet{}
	case "batch/v1/Job":
		typed = &batchv1.Job{}
	case "batch/v1/CronJob":
		typed = &batchv1.CronJob{}
	default:
		return nil, ref, nil
	}
	if len(req.Object.Raw) == 0 {
		return nil, ref, fmt.Errorf("%s %s/%s: request has no object", gvk.Kind, req.Namespace, req.Name)
	}
	if err := json.Unmarshal(req.Object.Raw, typed); err != nil {
		return nil, ref, fmt.Errorf("%s %s/%s: decode object: %w", gvk.Kind, req.Namespace, req.Name, err)
	}
	if m, ok := typed.(metav1.Object); ok && ref.Name == "" {
		// Pods created from a generateName have no name yet.
		ref.Name = m.GetName()
		if ref.Name == "" && m.GetGenerateName() != "" {
			ref.Name = m.GetGenerateName() + "*"
		}
	}
	return typed, ref, nil
}

// encodeResponse writes the review answering req.
func encodeResponse(w io.Writer, resp *admissionv1.AdmissionResponse) error {
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: reviewKind},
		Response: resp,
	}
	return json.NewEncoder(w).Encode(&out)
}
