package workloads

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

// KeyName is the name of key i of a keyed workload (register, multi, watch)
// as it appears in the history; the key's znode is named so under the
// workload's root.
func KeyName(i int) string { return "k" + strconv.Itoa(i) }

// SetupKeys is the Setup of a keyed workload: it creates root and, under
// it, keys znodes named KeyName(0) on, each holding 0 (version 0).
func SetupKeys(ctx context.Context, env Env, workload, root string, keys int) error {
	paths := []string{root}
	for i := 0; i < keys; i++ {
		paths = append(paths, root+"/"+KeyName(i))
	}
	return Setup(ctx, env, workload, []byte("0"), paths...)
}

// Setup is what a workload's Setup does: it creates each of paths, in
// order, as a persistent znode holding data, through the first node. Each
// create is retried until it succeeds or ctx ends; a znode that already
// exists is fine. Errors name the workload.
func Setup(ctx context.Context, env Env, workload string, data []byte, paths ...string) error {
	if len(env.Nodes) == 0 {
		return fmt.Errorf("%s setup: no nodes", workload)
	}
	node := env.Nodes[0]
	conn, err := env.Connect(ctx, node)
	if err != nil {
		return fmt.Errorf("%s setup: %w", workload, err)
	}
	defer conn.Close()
	for _, p := range paths {
		for {
			_, err := conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
			if err == nil || errors.Is(err, zk.ErrNodeExists) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s setup: create %s on %s: %w", workload, p, node.Name, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}
