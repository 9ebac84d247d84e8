package scheduler

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// DefaultSchedulerName is the spec.schedulerName pods get by default.
const DefaultSchedulerName = corev1.DefaultSchedulerName

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("scheduler: invalid configuration")

// Config is the scheduler's configuration, decoded from a
// KubeSchedulerConfiguration file by LoadConfig or built with
// DefaultConfig.
type Config struct {
	Profiles []Profile
	// PercentageOfNodesToScore: 0 is adaptive (50% − nodes/125, at least
	// 5%); every cycle examines at least 100 nodes.
	PercentageOfNodesToScore int32
	PodInitialBackoff        time.Duration
	PodMaxBackoff            time.Duration
	LeaderElection           LeaderElection
	// Kubeconfig, QPS and Burst come from clientConnection, for the
	// standalone `skiff scheduler`.
	Kubeconfig string
	QPS        float32
	Burst      int32
}

// LeaderElection configures the Lease the active scheduler holds.
type LeaderElection struct {
	Enabled       bool
	Namespace     string
	Name          string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// Profile is one scheduler name and its plugins.
type Profile struct {
	SchedulerName string
	// PercentageOfNodesToScore overrides Config's when non-nil.
	PercentageOfNodesToScore *int32
	// Filters are the enabled filter plugins' names, in run order.
	Filters []string
	// Scores maps an enabled score plugin to its weight.
	Scores map[string]int64
	// Preemption enables the DefaultPreemption post-filter.
	Preemption bool
	// Fit is NodeResourcesFit's scoring strategy.
	Fit ScoringStrategy
	// HardPodAffinityWeight is how much existing pods' required affinity
	// terms count when scoring (InterPodAffinityArgs, default 1).
	HardPodAffinityWeight int64
	// SpreadDefaults are PodTopologySpread's default constraints, given to
	// pods without constraints of their own, with a label selector made
	// of what selects the pod (Services, ReplicationControllers,
	// ReplicaSets, StatefulSets). PodTopologySpreadArgs defaultingType
	// System (the default) gives systemSpreadDefaults; List gives
	// defaultConstraints.
	SpreadDefaults []corev1.TopologySpreadConstraint
	// SpreadSystemDefaulted marks SpreadDefaults as the system defaults:
	// nodes then need not carry every key to be scored.
	SpreadSystemDefaulted bool
}

// systemSpreadDefaults are upstream's built-in default constraints: spread
// over nodes (maxSkew 3) and zones (maxSkew 5), scoring only.
func systemSpreadDefaults() []corev1.TopologySpreadConstraint {
	return []corev1.TopologySpreadConstraint{
		{MaxSkew: 3, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway},
		{MaxSkew: 5, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway},
	}
}

// StrategyType names a NodeResourcesFit scoring strategy.
type StrategyType string

const (
	LeastAllocated           StrategyType = "LeastAllocated"
	MostAllocated            StrategyType = "MostAllocated"
	RequestedToCapacityRatio StrategyType = "RequestedToCapacityRatio"
)

// ScoringStrategy is NodeResourcesFitArgs.scoringStrategy.
type ScoringStrategy struct {
	Type      StrategyType
	Resources []ResourceWeight
	// Shape points are utilization 0..100 → score 0..100 (the file's
	// 0..10 scores times ten), sorted by utilization.
	Shape []ShapePoint
}

// ResourceWeight weighs one resource in a scoring strategy.
type ResourceWeight struct {
	Name   corev1.ResourceName
	Weight int64
}

// ShapePoint is a point of the RequestedToCapacityRatio function.
type ShapePoint struct {
	Utilization int64
	Score       int64
}

// defaultFilters is upstream's default filter order.
var defaultFilters = []string{
	"NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
	"NodeResourcesFit", "VolumeBinding", "PodTopologySpread", "InterPodAffinity",
	"DynamicResources",
}

// defaultScores are upstream's default score plugins and weights.
var defaultScores = map[string]int64{
	"TaintToleration":                 3,
	"NodeAffinity":                    2,
	"PodTopologySpread":               2,
	"InterPodAffinity":                2,
	"NodeResourcesFit":                1,
	"NodeResourcesBalancedAllocation": 1,
	"ImageLocality":                   1,
}

// DefaultProfile returns upstream's default profile under name.
func DefaultProfile(name string) Profile {
	p := Profile{
		SchedulerName:         name,
		Filters:               append([]string(nil), defaultFilters...),
		Scores:                map[string]int64{},
		Preemption:            true,
		Fit:                   defaultStrategy(),
		HardPodAffinityWeight: 1,
		SpreadDefaults:        systemSpreadDefaults(),
		SpreadSystemDefaulted: true,
	}
	for k, v := range defaultScores {
		p.Scores[k] = v
	}
	return p
}

func defaultStrategy() ScoringStrategy {
	return ScoringStrategy{Type: LeastAllocated, Resources: []ResourceWeight{{corev1.ResourceCPU, 1}, {corev1.ResourceMemory, 1}}}
}

// DefaultConfig returns the configuration used without a file.
func DefaultConfig() *Config {
	return &Config{
		Profiles:          []Profile{DefaultProfile(DefaultSchedulerName)},
		PodInitialBackoff: time.Second,
		PodMaxBackoff:     10 * time.Second,
		LeaderElection: LeaderElection{
			Namespace: "kube-system", Name: "kube-scheduler",
			LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		},
		QPS: 50, Burst: 100,
	}
}

// The file's shape: kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration.
// Only the fields Skiff acts on are decoded; others are ignored.
type fileConfig struct {
	APIVersion               string        `json:"apiVersion"`
	Kind                     string        `json:"kind"`
	PercentageOfNodesToScore *int32        `json:"percentageOfNodesToScore"`
	PodInitialBackoffSeconds *int64        `json:"podInitialBackoffSeconds"`
	PodMaxBackoffSeconds     *int64        `json:"podMaxBackoffSeconds"`
	Profiles                 []fileProfile `json:"profiles"`
	LeaderElection           *struct {
		LeaderElect       *bool     `json:"leaderElect"`
		LeaseDuration     *duration `json:"leaseDuration"`
		RenewDeadline     *duration `json:"renewDeadline"`
		RetryPeriod       *duration `json:"retryPeriod"`
		ResourceName      string    `json:"resourceName"`
		ResourceNamespace string    `json:"resourceNamespace"`
	} `json:"leaderElection"`
	ClientConnection *struct {
		Kubeconfig string  `json:"kubeconfig"`
		QPS        float32 `json:"qps"`
		Burst      int32   `json:"burst"`
	} `json:"clientConnection"`
}

type fileProfile struct {
	SchedulerName            string `json:"schedulerName"`
	PercentageOfNodesToScore *int32 `json:"percentageOfNodesToScore"`
	Plugins                  *struct {
		MultiPoint fileSet `json:"multiPoint"`
		Filter     fileSet `json:"filter"`
		Score      fileSet `json:"score"`
		PostFilter fileSet `json:"postFilter"`
	} `json:"plugins"`
	PluginConfig []struct {
		Name string `json:"name"`
		Args struct {
			ScoringStrategy *struct {
				Type      StrategyType `json:"type"`
				Resources []struct {
					Name   string `json:"name"`
					Weight int64  `json:"weight"`
				} `json:"resources"`
				RequestedToCapacityRatio *struct {
					Shape []struct {
						Utilization int64 `json:"utilization"`
						Score       int64 `json:"score"`
					} `json:"shape"`
				} `json:"requestedToCapacityRatio"`
			} `json:"scoringStrategy"`
			HardPodAffinityWeight *int64                            `json:"hardPodAffinityWeight"`
			DefaultingType        string                            `json:"defaultingType"`
			DefaultConstraints    []corev1.TopologySpreadConstraint `json:"defaultConstraints"`
		} `json:"args"`
	} `json:"pluginConfig"`
}

type fileSet struct {
	Enabled  []filePlugin `json:"enabled"`
	Disabled []filePlugin `json:"disabled"`
}

type filePlugin struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight"`
}

// duration decodes a Go duration string ("15s").
type duration struct{ time.Duration }

func (d *duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// LoadConfig reads a KubeSchedulerConfiguration (apiVersion
// kubescheduler.config.k8s.io/v1) from path. Missing fields take upstream's
// defaults; errors wrap ErrConfig.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b)
}

// ParseConfig is LoadConfig on bytes.
func ParseConfig(b []byte) (*Config, error) {
	var f fileConfig
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if f.Kind != "" && f.Kind != "KubeSchedulerConfiguration" {
		return nil, fmt.Errorf("%w: kind %q, want KubeSchedulerConfiguration", ErrConfig, f.Kind)
	}
	if f.APIVersion != "" && f.APIVersion != "kubescheduler.config.k8s.io/v1" {
		return nil, fmt.Errorf("%w: apiVersion %q, want kubescheduler.config.k8s.io/v1", ErrConfig, f.APIVersion)
	}
	c := DefaultConfig()
	if p := f.PercentageOfNodesToScore; p != nil {
		if *p < 0 || *p > 100 {
			return nil, fmt.Errorf("%w: percentageOfNodesToScore %d not in 0..100", ErrConfig, *p)
		}
		c.PercentageOfNodesToScore = *p
	}
	if s := f.PodInitialBackoffSeconds; s != nil {
		c.PodInitialBackoff = time.Duration(*s) * time.Second
	}
	if s := f.PodMaxBackoffSeconds; s != nil {
		c.PodMaxBackoff = time.Duration(*s) * time.Second
	}
	if c.PodMaxBackoff < c.PodInitialBackoff {
		return nil, fmt.Errorf("%w: podMaxBackoffSeconds below podInitialBackoffSeconds", ErrConfig)
	}
	if le := f.LeaderElection; le != nil {
		if le.LeaderElect != nil {
			c.LeaderElection.Enabled = *le.LeaderElect
		}
		if le.LeaseDuration != nil {
			c.LeaderElection.LeaseDuration = le.LeaseDuration.Duration
		}
		if le.RenewDeadline != nil {
			c.LeaderElection.RenewDeadline = le.RenewDeadline.Duration
		}
		if le.RetryPeriod != nil {
			c.LeaderElection.RetryPeriod = le.RetryPeriod.Duration
		}
		if le.ResourceName != "" {
			c.LeaderElection.Name = le.ResourceName
		}
		if le.ResourceNamespace != "" {
			c.LeaderElection.Namespace = le.ResourceNamespace
		}
	}
	if cc := f.ClientConnection; cc != nil {
		c.Kubeconfig = cc.Kubeconfig
		if cc.QPS > 0 {
			c.QPS = cc.QPS
		}
		if cc.Burst > 0 {
			c.Burst = cc.Burst
		}
	}
	if len(f.Profiles) > 0 {
		c.Profiles = nil
		seen := map[string]bool{}
		for i := range f.Profiles {
			p, err := buildProfile(&f.Profiles[i])
			if err != nil {
				return nil, err
			}
			if seen[p.SchedulerName] {
				return nil, fmt.Errorf("%w: duplicate profile %q", ErrConfig, p.SchedulerName)
			}
			seen[p.SchedulerName] = true
			c.Profiles = append(c.Profiles, p)
		}
	}
	return c, nil
}

func isFilterPlugin(name string) bool { return slices.Contains(defaultFilters, name) }

func isScorePlugin(name string) bool { _, ok := defaultScores[name]; return ok }

func buildProfile(fp *fileProfile) (Profile, error) {
	name := fp.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	p := DefaultProfile(name)
	p.PercentageOfNodesToScore = fp.PercentageOfNodesToScore
	if pl := fp.Plugins; pl != nil {
		// multiPoint first, then the specific extension points, as upstream
		// merges them.
		for _, d := range pl.MultiPoint.Disabled {
			disableFilter(&p, d.Name)
			disableScore(&p, d.Name)
			if d.Name == "*" || d.Name == "DefaultPreemption" {
				p.Preemption = false
			}
		}
		for _, e := range pl.MultiPoint.Enabled {
			if err := enable(&p, e, true, true); err != nil {
				return p, err
			}
		}
		for _, d := range pl.Filter.Disabled {
			disableFilter(&p, d.Name)
		}
		for _, e := range pl.Filter.Enabled {
			if err := enable(&p, e, true, false); err != nil {
				return p, err
			}
		}
		for _, d := range pl.Score.Disabled {
			disableScore(&p, d.Name)
		}
		for _, e := range pl.Score.Enabled {
			if err := enable(&p, e, false, true); err != nil {
				return p, err
			}
		}
		for _, d := range pl.PostFilter.Disabled {
			if d.Name == "*" || d.Name == "DefaultPreemption" {
				p.Preemption = false
			}
		}
		for _, e := range pl.PostFilter.Enabled {
			if e.Name != "DefaultPreemption" {
				return p, fmt.Errorf("%w: profile %q: unknown postFilter plugin %q", ErrConfig, name, e.Name)
			}
			p.Preemption = true
		}
	}
	for _, pc := range fp.PluginConfig {
		switch pc.Name {
		case "NodeResourcesFit":
			ss := pc.Args.ScoringStrategy
			if ss == nil {
				continue
			}
			st := defaultStrategy()
			if ss.Type != "" {
				st.Type = ss.Type
			}
			switch st.Type {
			case LeastAllocated, MostAllocated, RequestedToCapacityRatio:
			default:
				return p, fmt.Errorf("%w: profile %q: unknown scoringStrategy type %q", ErrConfig, name, ss.Type)
			}
			if len(ss.Resources) > 0 {
				st.Resources = nil
				for _, r := range ss.Resources {
					w := r.Weight
					if w == 0 {
						w = 1
					}
					st.Resources = append(st.Resources, ResourceWeight{corev1.ResourceName(r.Name), w})
				}
			}
			if st.Type == RequestedToCapacityRatio {
				if ss.RequestedToCapacityRatio == nil || len(ss.RequestedToCapacityRatio.Shape) == 0 {
					return p, fmt.Errorf("%w: profile %q: requestedToCapacityRatio needs a shape", ErrConfig, name)
				}
				for i, pt := range ss.RequestedToCapacityRatio.Shape {
					if pt.Utilization < 0 || pt.Utilization > 100 || pt.Score < 0 || pt.Score > 10 {
						return p, fmt.Errorf("%w: profile %q: shape point %d out of range", ErrConfig, name, i)
					}
					if i > 0 && pt.Utilization <= ss.RequestedToCapacityRatio.Shape[i-1].Utilization {
						return p, fmt.Errorf("%w: profile %q: shape utilizations must increase", ErrConfig, name)
					}
					st.Shape = append(st.Shape, ShapePoint{pt.Utilization, pt.Score * 10})
				}
			}
			p.Fit = st
		case "InterPodAffinity":
			if w := pc.Args.HardPodAffinityWeight; w != nil {
				p.HardPodAffinityWeight = *w
			}
		case "PodTopologySpread":
			switch pc.Args.DefaultingType {
			case "", "System":
				if len(pc.Args.DefaultConstraints) > 0 {
					return p, fmt.Errorf("%w: profile %q: defaultConstraints need defaultingType List", ErrConfig, name)
				}
			case "List":
				for i, c := range pc.Args.DefaultConstraints {
					if c.LabelSelector != nil {
						return p, fmt.Errorf("%w: profile %q: default constraint %d has a labelSelector", ErrConfig, name, i)
					}
					if c.MaxSkew <= 0 || c.TopologyKey == "" {
						return p, fmt.Errorf("%w: profile %q: default constraint %d needs maxSkew > 0 and a topologyKey", ErrConfig, name, i)
					}
				}
				p.SpreadDefaults = pc.Args.DefaultConstraints
				p.SpreadSystemDefaulted = false
			default:
				return p, fmt.Errorf("%w: profile %q: unknown defaultingType %q", ErrConfig, name, pc.Args.DefaultingType)
			}
		}
	}
	return p, nil
}

func disableFilter(p *Profile, name string) {
	if name == "*" {
		p.Filters = nil
		return
	}
	out := p.Filters[:0:0]
	for _, f := range p.Filters {
		if f != name {
			out = append(out, f)
		}
	}
	p.Filters = out
}

func disableScore(p *Profile, name string) {
	if name == "*" {
		p.Scores = map[string]int64{}
		return
	}
	delete(p.Scores, name)
}

func enable(p *Profile, e filePlugin, filter, score bool) error {
	known := false
	if filter && isFilterPlugin(e.Name) {
		known = true
		if !slices.Contains(p.Filters, e.Name) {
			p.Filters = append(p.Filters, e.Name)
		}
	}
	if score && isScorePlugin(e.Name) {
		known = true
		w := e.Weight
		if w == 0 {
			w = defaultScores[e.Name]
		}
		p.Scores[e.Name] = w
	}
	if !known && e.Name != "PrioritySort" && e.Name != "DefaultBinder" && e.Name != "DefaultPreemption" {
		return fmt.Errorf("%w: profile %q: unknown plugin %q", ErrConfig, p.SchedulerName, e.Name)
	}
	if e.Name == "DefaultPreemption" {
		p.Preemption = true
	}
	return nil
}
