package dockerfile

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// baseImageNotPinned: every FROM that names an image must pin it by digest.
// scratch, earlier stages and images from ARGs without a default are not
// judged.
func baseImageNotPinned() *rule.Rule {
	return &rule.Rule{
		ID:          "dockerfile/base-image-not-pinned",
		Title:       "Base image not pinned by digest",
		Severity:    finding.SeverityMedium,
		Description: "A tag can be moved to different content at any time, by the publisher or by whoever compromises the registry account. Building FROM a tag means two builds of the same commit can contain different software, and a poisoned base reaches every image built after the push.",
		Remediation: "Pin the base image by digest and keep the tag for readers; let a dependency bot (Renovate, Dependabot) propose digest updates so patches still arrive, reviewed.",
		RemediationYAML: "FROM golang:1.26-alpine@sha256:<digest> AS build\n" +
			"FROM gcr.io/distroless/static-debian12:nonroot@sha256:<digest>",
		References: []finding.Reference{
			cisDocker("4.2", "Ensure that containers use only trusted base images"),
			nsaGuide("Supply chain / image integrity"),
			dockerDocs("Pin base image versions", "https://docs.docker.com/build/building/best-practices/#pin-base-image-versions"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			var out []rule.Violation
			for _, s := range f.Stages {
				ref, ok := imageBase(f, s)
				if !ok {
					continue
				}
				if _, _, digest := splitRef(ref); digest != "" {
					continue
				}
				out = append(out, rule.Violation{
					Line:    s.Line,
					Message: fmt.Sprintf("%s starts FROM %q, which is not pinned by digest", stageLabel(s), ref),
				})
			}
			return out
		},
	}
}

// baseImageLatest: a FROM image must name a version: neither ":latest" nor
// no tag at all (which means latest). A digest pins the image whatever the
// tag says, so "image:latest@sha256:..." passes.
func baseImageLatest() *rule.Rule {
	return &rule.Rule{
		ID:              "dockerfile/base-image-latest",
		Title:           "Base image uses latest or no tag",
		Severity:        finding.SeverityMedium,
		Description:     "\"latest\" is whatever was pushed last: the build silently changes major versions, cannot be reproduced, and reviews of the Dockerfile say nothing about what it builds on.",
		Remediation:     "Name an explicit version tag, ideally together with a digest.",
		RemediationYAML: "FROM python:3.13-slim-bookworm@sha256:<digest>",
		References: []finding.Reference{
			cisDocker("4.2", "Ensure that containers use only trusted base images"),
			dockerDocs("Pin base image versions", "https://docs.docker.com/build/building/best-practices/#pin-base-image-versions"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			var out []rule.Violation
			for _, s := range f.Stages {
				ref, ok := imageBase(f, s)
				if !ok {
					continue
				}
				_, tag, digest := splitRef(ref)
				switch {
				case digest != "":
				case tag == "":
					out = append(out, rule.Violation{Line: s.Line,
						Message: fmt.Sprintf("%s starts FROM %q with no tag, so it builds on whatever \"latest\" is", stageLabel(s), ref)})
				case tag == "latest":
					out = append(out, rule.Violation{Line: s.Line,
						Message: fmt.Sprintf("%s starts FROM %q, the moving \"latest\" tag", stageLabel(s), ref)})
				}
			}
			return out
		},
	}
}
