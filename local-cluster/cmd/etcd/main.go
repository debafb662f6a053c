// Command etcd is upstream's etcd server (go.etcd.io/etcd/server/v3/etcdmain), built from the
// version pinned in go.mod: the etcd release that the pinned Kubernetes depends on.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
