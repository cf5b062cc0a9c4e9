package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestDocsExamplesStayTrue checks the CI examples in docs/ against the
// project: every scenario they name is shipped and every zkchaos flag they
// pass exists, so the examples cannot rot unnoticed.
func TestDocsExamplesStayTrue(t *testing.T) {
	var scenarios []string

	gha := readYAML(t, "../../docs/nightly-github-actions.yaml")
	require.Len(t, gha, 1)
	var workflow struct {
		Jobs map[string]struct {
			Strategy struct {
				Matrix struct {
					Scenario []string `yaml:"scenario"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
		} `yaml:"jobs"`
	}
	require.NoError(t, gha[0].Decode(&workflow))
	for _, job := range workflow.Jobs {
		scenarios = append(scenarios, job.Strategy.Matrix.Scenario...)
	}

	var kinds []string
	for _, doc := range readYAML(t, "../../docs/nightly-kubernetes-cronjob.yaml") {
		var obj struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		require.NoError(t, doc.Decode(&obj))
		kinds = append(kinds, obj.Kind)
		if obj.Kind == "ConfigMap" {
			scenarios = append(scenarios, strings.Fields(obj.Data["scenarios"])...)
		}
	}
	assert.Equal(t, []string{"PersistentVolumeClaim", "ConfigMap", "CronJob"}, kinds)

	require.NotEmpty(t, scenarios)
	for _, s := range scenarios {
		assert.FileExists(t, filepath.Join("../../scenarios", s+".yaml"))
	}

	run, _, err := newRootCmd().Find([]string{"run"})
	require.NoError(t, err)
	for _, file := range []string{"../../docs/nightly-github-actions.yaml", "../../docs/nightly-kubernetes-cronjob.yaml"} {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		runs := regexp.MustCompile(`zkchaos run [^\n]*(?:\\\n[^\n]*)*`).FindAllString(string(b), -1)
		require.NotEmpty(t, runs, "%s runs zkchaos", file)
		for _, m := range runs {
			for _, flag := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(m, -1) {
				assert.NotNil(t, run.Flags().Lookup(flag[1]), "%s: zkchaos run has no --%s", file, flag[1])
			}
		}
	}
}

// readYAML decodes every document of a YAML file.
func readYAML(t *testing.T, path string) []yaml.Node {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err, path)
		docs = append(docs, n)
	}
}
