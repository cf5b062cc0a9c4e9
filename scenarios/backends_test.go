package scenarios

// The backends register themselves: scenarios name them.
import (
	_ "github.com/zkchaos/zkchaos/cluster/k8s"
	_ "github.com/zkchaos/zkchaos/cluster/local"
)
