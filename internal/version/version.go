// Package version reports which Kubernetes version Skiff serves.
package version

import (
	"runtime"

	"k8s.io/apimachinery/pkg/version"
)

// The Kubernetes API version Skiff implements (that of its k8s.io/api
// module) and Skiff's own build, set with -ldflags -X at release.
var (
	gitVersion = "v1.37.2+skiff"
	gitCommit  = ""
	buildDate  = "1970-01-01T00:00:00Z"
)

// Get returns what /version reports.
func Get() version.Info {
	return version.Info{
		Major:        "1",
		Minor:        "37",
		GitVersion:   gitVersion,
		GitCommit:    gitCommit,
		GitTreeState: "clean",
		BuildDate:    buildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}
