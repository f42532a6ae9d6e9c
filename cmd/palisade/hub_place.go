package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/workload"
)

type hubPlaceOptions struct {
	file            string
	all             bool
	strict          bool
	offline         bool
	registryTimeout time.Duration
	insecure        []string
}

func newHubPlaceCommand(s *streams, g *globalOptions, open hubOpener) *cobra.Command {
	o := &hubPlaceOptions{}
	cmd := &cobra.Command{
		Use:   "place -f workload.yaml",
		Short: "Rank the clusters that may run a workload, with reasons",
		Long: `For each workload in the file (Deployment, StatefulSet, DaemonSet, Job,
CronJob, ReplicaSet or Pod), check every cluster of the fleet and rank those
that may run it:

  cluster-state       online; stale is unknown (data may be out of date)
  node-labels         ready, schedulable nodes match nodeSelector and the
                      required node affinity
  architecture        those nodes' OS/architecture is one the images are
                      built for (from the registry's image index; else from
                      the clusters already running the image; else unknown)
  capacity            allocatable minus requested fits the replicas' requests
  pod-security        the namespace enforces a Pod Security level
  encryption-at-rest  the agent verified Secrets are encrypted at rest
  critical-findings   no open critical finding on the cluster

Every check passes, fails or is unknown: what the hub does not know is never
counted as good. A cluster fits when no check fails (--strict: when every
check passes). The exit code is 0 when every workload fits somewhere, 1 when
one fits nowhere, 2 on errors.`,
		Example: `  palisade hub place -f deploy/sensor-reader.yaml
  palisade hub place -f app.yaml --all -o json
  palisade hub place -f app.yaml --offline --strict --database postgres://palisade@db/palisade`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHubPlace(cmd.Context(), cmd, s, g, open, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "filename", "f", "", "manifest file with the workload(s) ('-' for standard input)")
	f.BoolVar(&o.all, "all", false, "also list the clusters that do not fit, with the failed checks")
	f.BoolVar(&o.strict, "strict", false, "count unknown checks as failures")
	f.BoolVar(&o.offline, "offline", false, "do not ask registries for image platforms; use the hub's records only")
	f.DurationVar(&o.registryTimeout, "registry-timeout", 10*time.Second, "time allowed to read one image's platforms from its registry")
	f.StringSliceVar(&o.insecure, "insecure-registry", nil, "registries (host:port) reached over plain HTTP")
	return cmd
}

// placeResult is one workload's placement, as printed.
type placeResult struct {
	Request    hub.PlacementRequest `json:"request"`
	Placements []hub.Placement      `json:"placements"`
	// Excluded counts clusters left out because they do not fit (without --all).
	Excluded int `json:"excluded,omitempty"`
}

func runHubPlace(ctx context.Context, cmd *cobra.Command, s *streams, g *globalOptions, open hubOpener, o *hubPlaceOptions) error {
	switch g.Output {
	case "table", "json", "yaml":
	default:
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("hub place: output %q: want table, json or yaml", g.Output)}
	}
	if o.file == "" {
		return &exitCodeError{Code: exitError, Err: fmt.Errorf("hub place: -f/--filename is required")}
	}
	reqs, err := placementRequests(ctx, s.In, o.file)
	if err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	platforms := map[string][]string{}
	if !o.offline {
		for _, r := range reqs {
			for i := range r.Images {
				ref := r.Images[i].Ref
				if _, done := platforms[ref]; done {
					continue
				}
				rctx, cancel := context.WithTimeout(ctx, o.registryTimeout)
				ps, err := hub.ImagePlatforms(rctx, ref, o.insecure)
				cancel()
				if err != nil {
					fmt.Fprintf(s.Err, "palisade: %v (using the hub's records)\n", err)
				}
				platforms[ref] = ps
			}
		}
	}
	h, st, err := open(cmd, hub.Config{})
	if err != nil {
		return err
	}
	defer st.Close()
	var results []placeResult
	nowhere := false
	for _, r := range reqs {
		r.Strict = o.strict
		for i := range r.Images {
			if ps := platforms[r.Images[i].Ref]; len(ps) > 0 {
				r.Images[i].Platforms, r.Images[i].Source = ps, "registry"
			}
		}
		ps, err := h.Place(ctx, r)
		if err != nil {
			return &exitCodeError{Code: exitError, Err: err}
		}
		res := placeResult{Request: r}
		fits := false
		for _, p := range ps {
			if p.Fits {
				fits = true
			}
			if p.Fits || o.all {
				res.Placements = append(res.Placements, p)
			} else {
				res.Excluded++
			}
		}
		if res.Placements == nil {
			res.Placements = []hub.Placement{}
		}
		nowhere = nowhere || !fits
		results = append(results, res)
	}
	if err := writePlacements(s.Out, g.Output, results); err != nil {
		return &exitCodeError{Code: exitError, Err: err}
	}
	if nowhere {
		return &exitCodeError{Code: exitFindings, Err: fmt.Errorf("a workload fits on no cluster")}
	}
	return nil
}

func writePlacements(w io.Writer, format string, results []placeResult) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"workloads": results})
	case "yaml":
		b, err := yaml.Marshal(map[string]any{"workloads": results})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	for i, res := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		r := res.Request
		pods := fmt.Sprintf("%d replica(s)", r.Replicas)
		if r.DaemonSet {
			pods = "one pod per node"
		}
		var ims []string
		for _, im := range r.Images {
			ims = append(ims, im.Ref)
		}
		fmt.Fprintf(w, "%s in namespace %s: %s, images %s\n", r.Workload, r.Namespace, pods, strings.Join(ims, ", "))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RANK\tCLUSTER\tFITS\tSTATE\tCHECK\tRESULT\tREASON")
		for _, p := range res.Placements {
			fits := "yes"
			if !p.Fits {
				fits = "no"
			}
			for j, c := range p.Checks {
				if j == 0 {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Rank, p.ClusterName, fits, p.State, c.Name, c.Result, c.Reason)
				} else {
					fmt.Fprintf(tw, "\t\t\t\t%s\t%s\t%s\n", c.Name, c.Result, c.Reason)
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		switch {
		case len(res.Placements) == 0 && res.Excluded > 0:
			fmt.Fprintf(w, "No cluster fits (%d checked; --all shows why).\n", res.Excluded)
		case len(res.Placements) == 0:
			fmt.Fprintln(w, "No cluster is registered.")
		case res.Excluded > 0:
			fmt.Fprintf(w, "%d more cluster(s) do not fit (--all shows them).\n", res.Excluded)
		}
	}
	return nil
}

// placementRequests reads the workloads of a manifest file.
func placementRequests(ctx context.Context, stdin io.Reader, file string) ([]hub.PlacementRequest, error) {
	set, err := manifest.Load(ctx, []string{file}, manifest.Options{Stdin: stdin, SkipDockerfiles: true})
	if err != nil {
		return nil, fmt.Errorf("hub place: %w", err)
	}
	inv, problems := workload.FromManifests(set, "default")
	var out []hub.PlacementRequest
	for _, obj := range inv.Objects {
		w := obj.Workload
		if w == nil {
			continue
		}
		r := hub.PlacementRequest{Workload: w.Ref.Kind + "/" + w.Ref.Namespace + "/" + w.Ref.Name, Namespace: w.Namespace(), Replicas: 1,
			NodeSelector: w.Spec.NodeSelector}
		switch o := obj.Typed.(type) {
		case *appsv1.Deployment:
			r.Replicas = replicas(o.Spec.Replicas)
		case *appsv1.StatefulSet:
			r.Replicas = replicas(o.Spec.Replicas)
		case *appsv1.ReplicaSet:
			r.Replicas = replicas(o.Spec.Replicas)
		case *corev1.ReplicationController:
			r.Replicas = replicas(o.Spec.Replicas)
		case *batchv1.Job:
			r.Replicas = replicas(o.Spec.Parallelism)
		case *appsv1.DaemonSet:
			r.DaemonSet = true
		}
		if a := w.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
			for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
				var reqs []hub.NodeRequirement
				for _, e := range term.MatchExpressions {
					reqs = append(reqs, hub.NodeRequirement{Key: e.Key, Operator: string(e.Operator), Values: e.Values})
				}
				r.RequiredAffinity = append(r.RequiredAffinity, reqs)
			}
		}
		r.CPUMilli, r.MemoryBytes = podRequests(w.Spec)
		seen := map[string]bool{}
		for _, c := range workload.Containers(w.Spec) {
			if c.Image != "" && !seen[c.Image] {
				seen[c.Image] = true
				r.Images = append(r.Images, hub.PlacementImage{Ref: c.Image})
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		msg := "no workload (Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, Pod) in " + file
		if len(problems) > 0 {
			msg += ": " + problems[0].Message
		}
		return nil, fmt.Errorf("hub place: %s", msg)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Workload < out[j].Workload })
	return out, nil
}

func replicas(n *int32) int {
	if n == nil {
		return 1
	}
	return int(*n)
}

// podRequests is what the scheduler reserves for one pod: the larger of
// the sum of its containers' requests and any one init container's.
func podRequests(spec *corev1.PodSpec) (cpuMilli, memBytes int64) {
	for _, c := range spec.Containers {
		cpuMilli += c.Resources.Requests.Cpu().MilliValue()
		memBytes += c.Resources.Requests.Memory().Value()
	}
	for _, c := range spec.InitContainers {
		cpuMilli = max(cpuMilli, c.Resources.Requests.Cpu().MilliValue())
		memBytes = max(memBytes, c.Resources.Requests.Memory().Value())
	}
	return cpuMilli, memBytes
}
