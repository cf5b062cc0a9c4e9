package compare

// The backends register themselves: the scenarios run here name them.
import (
	_ "github.com/zkchaos/zkchaos/cluster/k8s"
	_ "github.com/zkchaos/zkchaos/cluster/local"
)
