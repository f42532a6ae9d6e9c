package manifest

import (
	"context"
	"strings"
	"testing"
)

// helmOutput is what `helm template shop ./mychart` prints: each document
// opens with a "# Source:" comment naming its template.
const helmOutput = `---
# Source: mychart/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: mychart/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
      - name: web
        image: "nginx:1.27"
        securityContext:
          privileged: true
---
# Source: mychart/templates/broken.yaml
apiVersion: v1
metadata:
  name: nokind
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: no-source
`

func TestLoadHelmSourceLocations(t *testing.T) {
	tests := []struct {
		name string
		path string
		want string
	}{
		// Piped in: the template is the file, line 1 the "# Source:" comment.
		{"stdin", StdinPath, `mychart/templates/serviceaccount.yaml:2 v1 ServiceAccount /shop
mychart/templates/deployment.yaml:2 apps/v1 Deployment /shop
<stdin>:27 v1 ConfigMap /no-source
mychart/templates/broken.yaml:2 error: document 3: apiVersion v1 but no kind; not read
documents 4, not understood 1
`},
		// A rendered file on disk is a file of its own: its lines are right.
		{"file", "rendered.yaml", `rendered.yaml:3 v1 ServiceAccount /shop
rendered.yaml:9 apps/v1 Deployment /shop
rendered.yaml:27 v1 ConfigMap /no-source
rendered.yaml:23 error: document 3: apiVersion v1 but no kind; not read
documents 4, not understood 1
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var set *Set
			if tt.path == StdinPath {
				var err error
				set, err = Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(helmOutput)})
				if err != nil {
					t.Fatal(err)
				}
			} else {
				set = loadString(t, tt.path, helmOutput)
			}
			if got := describe(set); got != tt.want {
				t.Errorf("got:\n%swant:\n%s", got, tt.want)
			}
			for _, o := range set.Objects {
				if o.Kind == "Deployment" && o.HelmSource != "mychart/templates/deployment.yaml" {
					t.Errorf("HelmSource = %q", o.HelmSource)
				}
			}
		})
	}
	set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(helmOutput)})
	if err != nil {
		t.Fatal(err)
	}
	deploy := set.Objects[1]
	for path, want := range map[string]int{"spec.template.spec.containers[0].securityContext.privileged": 13, "metadata.name": 5, "spec.template.spec.containers[0].image": 11} {
		if got := deploy.LineOf(path); got != want {
			t.Errorf("line of %s in the template = %d, want %d", path, got, want)
		}
	}
}
