// Package apfbootstrap holds the API Priority and Fairness configuration
// every cluster starts with, as upstream v1.37 defines it: the mandatory
// FlowSchemas and PriorityLevelConfigurations (exempt, catch-all), which
// validation pins and the server restores at start, and the suggested
// ones the server creates when they are missing.
//
// The objects are built fresh on every call; callers may modify them. The
// package starts nothing.
package apfbootstrap
