package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/catalog"
	"github.com/palisade-sec/palisade/internal/catalog/frameworks"
	"github.com/palisade-sec/palisade/internal/cli/configcmd"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// addFrameworkFlag adds --framework to a command that reports compliance.
func (o *scanOptions) addFrameworkFlag(cmd *cobra.Command) { o.AddFrameworkFlag(cmd) }

// catalogFrameworks is --framework for configcmd.
type catalogFrameworks struct{}

func (catalogFrameworks) Names(values []string) ([]string, error) {
	return (&scanOptions{configcmd.ScanFlags{Frameworks: values}}).frameworkNames()
}

func (catalogFrameworks) AssessConfig(r *finding.Report, names []string, set *rule.Set) error {
	return assessRules(r, names, set, "scan config", catalog.AnalyserWorkload, catalog.AnalyserDockerfile, catalog.AnalyserRBAC)
}

// frameworkNames validates --framework before anything is scanned.
func (o *scanOptions) frameworkNames() ([]string, error) {
	names, err := catalog.FrameworkNames(o.Frameworks)
	if err != nil {
		return nil, fmt.Errorf("--framework: %w", err)
	}
	return names, nil
}

// assessFrameworks adds the compliance results of --framework to a rule
// engine scan's report.
func (o *scanOptions) assessFrameworks(r *finding.Report, set *rule.Set, command string, analysers ...string) error {
	names, err := o.frameworkNames()
	if err != nil || len(names) == 0 {
		return err
	}
	return assessRules(r, names, set, command, analysers...)
}

// assessRules adds the compliance results of the named frameworks to a
// rule engine scan's report.
func assessRules(r *finding.Report, names []string, set *rule.Set, command string, analysers ...string) error {
	evaluated := map[string]bool{}
	for _, ru := range set.Rules() {
		evaluated[ru.ID] = true
	}
	return assess(r, names, catalog.Run{Command: command, Scope: frameworks.ScopeCluster, Analysers: analysers,
		Evaluated: evaluated, Inputs: r.Inputs})
}

func assess(r *finding.Report, names []string, run catalog.Run) error {
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	return cat.Assess(r, names, run)
}
