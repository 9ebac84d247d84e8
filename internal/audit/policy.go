package audit

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/auth"
)

// ErrInvalidPolicy wraps every problem found in a policy file.
var ErrInvalidPolicy = errors.New("audit: invalid policy")

// Level is how much of a request an event records.
type Level string

// Levels, from least to most.
const (
	LevelNone            Level = "None"
	LevelMetadata        Level = "Metadata"
	LevelRequest         Level = "Request"
	LevelRequestResponse Level = "RequestResponse"
)

// Less reports whether l records less than o.
func (l Level) Less(o Level) bool { return l.rank() < o.rank() }

func (l Level) rank() int {
	switch l {
	case LevelMetadata:
		return 1
	case LevelRequest:
		return 2
	case LevelRequestResponse:
		return 3
	}
	return 0
}

// Stage is the point in a request's life an event records.
type Stage string

// Stages, in the order a request goes through them.
const (
	StageRequestReceived  Stage = "RequestReceived"
	StageResponseStarted  Stage = "ResponseStarted"
	StageResponseComplete Stage = "ResponseComplete"
	StagePanic            Stage = "Panic"
)

// Policy is upstream's audit.k8s.io/v1 Policy.
type Policy struct {
	APIVersion string         `json:"apiVersion,omitempty"`
	Kind       string         `json:"kind,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	// Rules are tried in order; the first that matches sets the level.
	// No match means LevelNone.
	Rules []PolicyRule `json:"rules"`
	// OmitStages are never recorded, whatever the rule.
	OmitStages []Stage `json:"omitStages,omitempty"`
	// OmitManagedFields drops metadata.managedFields from recorded
	// request and response objects unless a rule says otherwise.
	OmitManagedFields bool `json:"omitManagedFields,omitempty"`
}

// PolicyRule maps requests to a level. Every set field must match; unset
// fields match everything.
type PolicyRule struct {
	Level           Level            `json:"level"`
	Users           []string         `json:"users,omitempty"`
	UserGroups      []string         `json:"userGroups,omitempty"`
	Verbs           []string         `json:"verbs,omitempty"`
	Resources       []GroupResources `json:"resources,omitempty"`
	Namespaces      []string         `json:"namespaces,omitempty"`
	NonResourceURLs []string         `json:"nonResourceURLs,omitempty"`
	OmitStages      []Stage          `json:"omitStages,omitempty"`
	// OmitManagedFields overrides the policy's setting when set.
	OmitManagedFields *bool `json:"omitManagedFields,omitempty"`
}

// GroupResources selects resources of one API group ("" = core).
// Resources may be "pods", "pods/log", "pods/*", "*/scale" or "*";
// ResourceNames restricts to those object names.
type GroupResources struct {
	Group         string   `json:"group,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// Decision is what the policy says about one request.
type Decision struct {
	Level             Level
	OmitStages        []Stage
	OmitManagedFields bool
}

// Omits reports whether stage s is not recorded.
func (d Decision) Omits(s Stage) bool { return slices.Contains(d.OmitStages, s) }

// LoadPolicy reads and checks the policy file at path.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy decodes a policy in YAML or JSON and checks it. Unknown
// fields are errors, so a misspelled field does not silently widen a rule.
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		return nil, fmt.Errorf("%w: got apiVersion %q kind %q, want audit.k8s.io/v1 Policy", ErrInvalidPolicy, p.APIVersion, p.Kind)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Policy) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...))
	}
	if len(p.Rules) == 0 {
		return bad("policy has no rules")
	}
	checkStages := func(where string, ss []Stage) error {
		for _, s := range ss {
			switch s {
			case StageRequestReceived, StageResponseStarted, StageResponseComplete, StagePanic:
			default:
				return bad("%s: unknown stage %q", where, s)
			}
		}
		return nil
	}
	if err := checkStages("omitStages", p.OmitStages); err != nil {
		return err
	}
	for i, r := range p.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		switch r.Level {
		case LevelNone, LevelMetadata, LevelRequest, LevelRequestResponse:
		default:
			return bad("%s: unknown level %q", where, r.Level)
		}
		if err := checkStages(where+".omitStages", r.OmitStages); err != nil {
			return err
		}
		if len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.Namespaces) > 0) {
			return bad("%s: rules cannot apply to both regular resources and non-resource URLs", where)
		}
		for _, u := range r.NonResourceURLs {
			if u == "" || (u != "*" && !strings.HasPrefix(u, "/")) || strings.Contains(strings.TrimSuffix(u, "*"), "*") {
				return bad("%s: nonResourceURL %q: want \"*\" or a path starting with \"/\" with \"*\" only at its end", where, u)
			}
		}
		for j, gr := range r.Resources {
			if len(gr.ResourceNames) > 0 && len(gr.Resources) == 0 {
				return bad("%s.resources[%d]: resourceNames require resources", where, j)
			}
			for _, res := range gr.Resources {
				if res == "" || strings.Count(res, "/") > 1 {
					return bad("%s.resources[%d]: invalid resource %q", where, j, res)
				}
			}
		}
	}
	return nil
}

// Decide evaluates the policy for a request; attrs.User is the
// authenticated user (before impersonation), as upstream matches it. A
// nil policy records nothing.
func (p *Policy) Decide(attrs auth.Attributes) Decision {
	if p == nil {
		return Decision{Level: LevelNone}
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.matches(attrs) {
			continue
		}
		d := Decision{Level: r.Level, OmitManagedFields: p.OmitManagedFields}
		if r.OmitManagedFields != nil {
			d.OmitManagedFields = *r.OmitManagedFields
		}
		d.OmitStages = append(slices.Clone(p.OmitStages), r.OmitStages...)
		return d
	}
	return Decision{Level: LevelNone, OmitStages: p.OmitStages}
}

func (r *PolicyRule) matches(a auth.Attributes) bool {
	var name string
	var groups []string
	if a.User != nil {
		name, groups = a.User.Name, a.User.Groups
	}
	if len(r.Users) > 0 && !slices.Contains(r.Users, name) {
		return false
	}
	if len(r.UserGroups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(r.UserGroups, g) }) {
		return false
	}
	if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, a.Verb) {
		return false
	}
	if len(r.Namespaces) > 0 || len(r.Resources) > 0 {
		return r.matchesResource(a)
	}
	if len(r.NonResourceURLs) > 0 {
		return !a.ResourceRequest && slices.ContainsFunc(r.NonResourceURLs, func(u string) bool { return pathMatches(u, a.Path) })
	}
	return true
}

// matchesResource applies namespaces and resources; "" in namespaces
// matches cluster-scoped requests.
func (r *PolicyRule) matchesResource(a auth.Attributes) bool {
	if !a.ResourceRequest {
		return false
	}
	if len(r.Namespaces) > 0 && !slices.Contains(r.Namespaces, a.Namespace) {
		return false
	}
	if len(r.Resources) == 0 {
		return true
	}
	full := a.Resource
	if a.Subresource != "" {
		full += "/" + a.Subresource
	}
	for _, gr := range r.Resources {
		if gr.Group != a.APIGroup {
			continue
		}
		if len(gr.Resources) == 0 {
			return true
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, a.Name) {
			continue
		}
		for _, res := range gr.Resources {
			switch {
			case res == "*" || res == full:
				return true
			case strings.HasPrefix(res, "*/") && a.Subresource != "" && res[2:] == a.Subresource:
				return true
			case strings.HasSuffix(res, "/*") && res[:len(res)-2] == a.Resource:
				return true
			}
		}
	}
	return false
}

// pathMatches matches a non-resource URL rule: exact, "*", or a prefix
// ending in "*".
func pathMatches(rule, path string) bool {
	if rule == "*" || rule == path {
		return true
	}
	if p, ok := strings.CutSuffix(rule, "*"); ok {
		return strings.HasPrefix(path, p)
	}
	return false
}
