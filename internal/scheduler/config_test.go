package scheduler

import (
	"errors"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	file := `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
podMaxBackoffSeconds: 20
leaderElection:
  leaderElect: true
  leaseDuration: 30s
profiles:
- schedulerName: default-scheduler
- schedulerName: packer
  plugins:
    score:
      disabled:
      - name: NodeResourcesBalancedAllocation
      enabled:
      - name: NodeResourcesFit
        weight: 5
    postFilter:
      disabled:
      - name: DefaultPreemption
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources:
        - {name: cpu, weight: 2}
        requestedToCapacityRatio:
          shape:
          - {utilization: 0, score: 0}
          - {utilization: 100, score: 10}
`
	c, err := ParseConfig([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if c.PercentageOfNodesToScore != 30 || c.PodMaxBackoff != 20*time.Second || c.PodInitialBackoff != time.Second {
		t.Errorf("top-level fields: %+v", c)
	}
	if !c.LeaderElection.Enabled || c.LeaderElection.LeaseDuration != 30*time.Second || c.LeaderElection.Name != "kube-scheduler" {
		t.Errorf("leader election: %+v", c.LeaderElection)
	}
	if len(c.Profiles) != 2 {
		t.Fatalf("got %d profiles; want 2", len(c.Profiles))
	}
	p := c.Profiles[1]
	if p.SchedulerName != "packer" || p.Preemption || p.Scores["NodeResourcesFit"] != 5 || p.Scores["TaintToleration"] != 3 {
		t.Errorf("packer profile: %+v", p)
	}
	if _, ok := p.Scores["NodeResourcesBalancedAllocation"]; ok {
		t.Errorf("BalancedAllocation not disabled")
	}
	if p.Fit.Type != RequestedToCapacityRatio || len(p.Fit.Shape) != 2 || p.Fit.Shape[1].Score != 100 || p.Fit.Resources[0].Weight != 2 {
		t.Errorf("fit strategy: %+v", p.Fit)
	}
	if !c.Profiles[0].Preemption || len(c.Profiles[0].Filters) != len(defaultFilters) {
		t.Errorf("default profile: %+v", c.Profiles[0])
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ name, file string }{
		{"wrong kind", "kind: Pod"},
		{"wrong version", "apiVersion: kubescheduler.config.k8s.io/v1beta1\nkind: KubeSchedulerConfiguration"},
		{"bad percentage", "percentageOfNodesToScore: 150"},
		{"unknown plugin", "profiles:\n- plugins:\n    filter:\n      enabled:\n      - name: Nope"},
		{"duplicate profile", "profiles:\n- schedulerName: a\n- schedulerName: a"},
		{"unknown strategy", "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: Random"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseConfig([]byte(tt.file)); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v; want ErrConfig", err)
			}
		})
	}
}
