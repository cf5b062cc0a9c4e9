package main

// The backends a scenario's cluster.backend can name. Each registers itself
// with package cluster when imported; this is the only file of the command,
// and of everything it builds on, that imports a backend.
import (
	_ "github.com/zkchaos/zkchaos/cluster/k8s"
	_ "github.com/zkchaos/zkchaos/cluster/local"
)
