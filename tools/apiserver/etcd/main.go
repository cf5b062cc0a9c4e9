// Command etcd is etcd's own server, built from the Go module proxy so the
// Kubernetes tests can start a real API server without downloading release
// archives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
