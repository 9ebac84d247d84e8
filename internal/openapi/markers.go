package openapi

//go:generate go run ./markergen -o markers_table.go

// fieldMarker carries the list and map semantics upstream declares with
// +listType, +listMapKey and +mapType comments. Comments do not survive
// compilation, so these facts come from tables.
type fieldMarker struct {
	listType    string   // "atomic", "set" or "map"
	listMapKeys []string // for listType "map"
	mapType     string   // "atomic" or "granular"
}
